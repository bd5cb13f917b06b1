package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// reader is the frame reader's state between Reads. Only the goroutine
// calling Read touches it.
type reader struct {
	hdr     [ws.MaxHeaderSize - 2]byte // scratch for ws.ReadHeaderBuffer
	rem     int64                      // payload bytes of the current uncompressed frame still to read
	mask    [4]byte
	masked  bool
	maskPos int
	// inMsg: a data message was started by a frame without FIN, so the
	// next data frame must be a continuation. compressed: that message's
	// first frame had RSV1.
	inMsg, compressed bool
	cbuf              []byte // compressed payload of the message so far
	out               []byte // inflated bytes not yet returned
	ctl               [maxControlPayload]byte
	inflate           inflater
	err               error // sticky: once set, every Read returns it
}

func (r *reader) init() {}

// Read implements net.Conn: it returns data-frame payload bytes, taking
// them across frame boundaries while the next frame is already buffered
// (so many small frames make one Read, as they would on TCP), and handles
// control frames on the way.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	r := &c.rd
	n := 0
	for n < len(p) {
		if r.err != nil {
			if n > 0 {
				return n, nil // the error comes with the next Read
			}
			return 0, r.err
		}
		if len(r.out) > 0 {
			k := copy(p[n:], r.out)
			r.out = r.out[k:]
			n += k
			continue
		}
		if n > 0 && !c.nextBuffered() {
			return n, nil
		}
		if r.rem == 0 {
			r.err = c.nextFrame()
			continue
		}
		q := p[n:]
		if int64(len(q)) > r.rem {
			q = q[:r.rem]
		}
		k, err := c.br.Read(q)
		if r.masked {
			ws.Cipher(q[:k], r.mask, r.maskPos)
		}
		r.maskPos += k
		r.rem -= int64(k)
		n += k
		if err != nil {
			r.err = unexpectedEOF(err)
		}
	}
	return n, nil
}

// nextBuffered reports whether more payload can be had without blocking:
// the current frame's bytes are buffered, or the whole next frame header
// (and a control or compressed frame's whole payload) is.
func (c *Conn) nextBuffered() bool {
	if len(c.rd.out) > 0 {
		return true
	}
	b := c.br.Buffered()
	if c.rd.rem > 0 {
		return b > 0
	}
	if b < 2 {
		return false
	}
	h, _ := c.br.Peek(2)
	need := int64(2)
	if h[1]&0x80 != 0 {
		need += 4
	}
	length := int64(h[1] & 0x7f)
	switch length {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if int64(b) < need {
		return false
	}
	if length >= 126 {
		ext, _ := c.br.Peek(int(need))
		if length == 126 {
			length = int64(binary.BigEndian.Uint16(ext[2:]))
		} else {
			length = int64(binary.BigEndian.Uint64(ext[2:]) & (1<<63 - 1))
		}
	}
	if ws.OpCode(h[0]&0x0f).IsControl() || h[0]&0x40 != 0 || c.rd.compressed {
		need += length
	}
	return int64(b) >= need
}

// unexpectedEOF turns an EOF inside a frame into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nextFrame reads the next frame header and whatever must be read whole
// (a control frame's payload, a compressed frame's payload); for an
// uncompressed data frame it leaves the payload to Read. An error is a
// read error (io.EOF between frames is the peer going away) or a
// *CloseError after a close frame went to the peer.
func (c *Conn) nextFrame() error {
	r := &c.rd
	h, err := ws.ReadHeaderBuffer(c.br, r.hdr[:])
	if err != nil {
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return c.fail(StatusProtocolError, "invalid payload length")
		}
		if err == io.ErrUnexpectedEOF {
			return err
		}
		return err // io.EOF here is a clean end between frames
	}
	rsv1, rsv2, rsv3 := ws.RsvBits(h.Rsv)
	switch {
	case rsv2 || rsv3:
		return c.fail(StatusProtocolError, "RSV2 and RSV3 must be clear")
	case rsv1 && !c.compress:
		return c.fail(StatusProtocolError, "compressed frame received without negotiated permessage-deflate")
	case c.server && !h.Masked:
		return c.fail(StatusProtocolError, "mask bit missing")
	case !c.server && h.Masked:
		return c.fail(StatusProtocolError, "server frames must not be masked")
	}
	r.mask, r.masked, r.maskPos = h.Mask, h.Masked, 0
	if h.OpCode.IsControl() {
		switch {
		case h.Length > maxControlPayload:
			return c.fail(StatusProtocolError, fmt.Sprintf("control frame length bigger than maximum allowed of %d bytes", maxControlPayload))
		case !h.Fin:
			return c.fail(StatusProtocolError, "control frame does not have final bit set")
		case rsv1:
			return c.fail(StatusProtocolError, "control frame must not be compressed")
		}
		return c.control(h)
	}
	switch h.OpCode {
	case opText:
		return c.fail(StatusUnsupportedData, "text frames are not supported: send the NATS protocol in binary frames")
	case opBinary:
		if r.inMsg {
			return c.fail(StatusProtocolError, "new message started before final frame for previous message was received")
		}
		r.compressed = rsv1
	case opContinuation:
		if !r.inMsg || rsv1 {
			return c.fail(StatusProtocolError, "invalid continuation frame")
		}
	default:
		return c.fail(StatusProtocolError, fmt.Sprintf("unknown opcode %d", h.OpCode))
	}
	r.inMsg = !h.Fin
	if h.Length > int64(c.maxMsg) {
		return c.fail(StatusMessageTooBig, fmt.Sprintf("frame of %d bytes exceeds the limit of %d", h.Length, c.maxMsg))
	}
	if !r.compressed {
		r.rem = h.Length
		return nil
	}
	return c.compressedFrame(h)
}

// control handles a ping, pong or close frame.
func (c *Conn) control(h ws.Header) error {
	r := &c.rd
	payload := r.ctl[:h.Length]
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return unexpectedEOF(err)
	}
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
	}
	switch h.OpCode {
	case opPing:
		return c.writeControl(opPong, payload)
	case opPong:
		return nil
	}
	// Close: echo the status (RFC 6455 section 5.5.1), then end the stream.
	status, body := StatusNoStatus, ""
	switch {
	case len(payload) == 1:
		return c.fail(StatusProtocolError, "close frame payload cannot be 1 byte")
	case len(payload) >= 2:
		status = int(binary.BigEndian.Uint16(payload))
		if !validCloseStatus(status) {
			return c.fail(StatusProtocolError, fmt.Sprintf("invalid close status code %d", status))
		}
		body = string(payload[2:])
		if !utf8.ValidString(body) {
			status, body = StatusInvalidPayload, "invalid utf8 body in close frame"
		}
	}
	var echo []byte
	if status != StatusNoStatus {
		echo = closeBody(status, body)
	}
	_ = c.writeControl(opClose, echo)
	return io.EOF
}

// compressedFrame reads one frame of a compressed message whole and, at
// the message's last frame, inflates it into r.out.
func (c *Conn) compressedFrame(h ws.Header) error {
	r := &c.rd
	if int64(len(r.cbuf))+h.Length > int64(c.maxMsg) {
		return c.fail(StatusMessageTooBig, fmt.Sprintf("compressed message exceeds the limit of %d bytes", c.maxMsg))
	}
	start := len(r.cbuf)
	r.cbuf = slices.Grow(r.cbuf, int(h.Length))[:start+int(h.Length)]
	if _, err := io.ReadFull(c.br, r.cbuf[start:]); err != nil {
		return unexpectedEOF(err)
	}
	if h.Masked {
		ws.Cipher(r.cbuf[start:], h.Mask, 0)
	}
	if !h.Fin {
		return nil
	}
	out, err := r.inflate.inflate(r.cbuf, c.maxMsg)
	r.cbuf, r.compressed = r.cbuf[:0], false
	if cap(r.cbuf) > 64<<10 {
		r.cbuf = nil // do not keep a big message's buffer
	}
	switch {
	case errors.Is(err, errTooBig):
		return c.fail(StatusMessageTooBig, fmt.Sprintf("inflated message exceeds the limit of %d bytes", c.maxMsg))
	case err != nil:
		return c.fail(StatusInvalidPayload, "invalid compressed data: "+err.Error())
	}
	r.out = out
	return nil
}

// fail sends the peer a close frame with status and reason and returns the
// *CloseError that ends the stream.
func (c *Conn) fail(status int, reason string) error {
	_ = c.writeControl(opClose, closeBody(status, reason))
	return &CloseError{Status: status, Reason: reason}
}
