package ws

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692) as nats-server runs it: no context
// takeover in either direction, so every message is deflated and inflated
// on its own and nothing is kept between messages but the (reset) codec.

// pmcResponse is the extension the server accepts with.
const pmcResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// compressThreshold: smaller writes go uncompressed (nats-server's 64).
const compressThreshold = 64

// offersDeflate reports whether a Sec-WebSocket-Extensions header offers
// permessage-deflate (its parameters are not needed: without context
// takeover the server can accept any offer).
func offersDeflate(values []string) bool {
	for _, v := range values {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// deflateTail is what a sender strips from the end of each message and the
// receiver appends back (RFC 7692 section 7.2.2), followed by an empty final
// stored block so the inflater sees the end of the stream.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var errTooBig = errors.New("inflated message too big")

// inflater inflates messages; owned by the reading goroutine.
type inflater struct {
	fr  io.ReadCloser
	src bytes.Reader
	tl  bytes.Reader
	out []byte
}

// inflate returns the message inflated from payload (valid until the next
// call), or errTooBig past limit bytes.
func (f *inflater) inflate(payload []byte, limit int) ([]byte, error) {
	f.src.Reset(payload)
	f.tl.Reset(deflateTail)
	in := io.MultiReader(&f.src, &f.tl)
	if f.fr == nil {
		f.fr = flate.NewReader(in)
	} else if err := f.fr.(flate.Resetter).Reset(in, nil); err != nil {
		return nil, err
	}
	out := f.out[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := f.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit {
			return nil, errTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(out) <= 64<<10 {
		f.out = out // keep a modest buffer for the next message
	} else {
		f.out = nil
	}
	return out, nil
}

// deflater compresses outgoing messages; guarded by the write lock.
type deflater struct {
	fw  *flate.Writer
	buf bytes.Buffer
}

// deflate returns the compressed form of bufs with the deflate tail
// stripped (valid until the next call).
func (d *deflater) deflate(bufs [][]byte) ([]byte, error) {
	d.buf.Reset()
	if d.fw == nil {
		fw, err := flate.NewWriter(&d.buf, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		d.fw = fw
	} else {
		d.fw.Reset(&d.buf)
	}
	for _, b := range bufs {
		if _, err := d.fw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := d.fw.Flush(); err != nil {
		return nil, err
	}
	b := d.buf.Bytes()
	if d.buf.Cap() > 1<<20 {
		defer func() { d.buf = bytes.Buffer{} }()
	}
	return bytes.TrimSuffix(b, deflateTail[:4]), nil
}
