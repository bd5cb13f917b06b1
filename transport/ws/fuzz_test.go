package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// byteConn is a net.Conn that reads a fixed input and discards writes: the
// frame reader's input for fuzzing, with no network involved.
type byteConn struct {
	r *bytes.Reader
}

func (b *byteConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *byteConn) Close() error                     { return nil }
func (b *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b *byteConn) SetDeadline(time.Time) error      { return nil }
func (b *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (b *byteConn) SetWriteDeadline(time.Time) error { return nil }

func readerOver(in []byte, compress bool) *Conn {
	bc := &byteConn{r: bytes.NewReader(in)}
	return newConn(bc, bufio.NewReaderSize(bc, readBufSize), true, compress, 1<<16, nil)
}

// drain reads c to its end with reads of varying size.
func drain(c *Conn, sizes []byte) ([]byte, error) {
	var out []byte
	buf := make([]byte, 256)
	for i := 0; ; i++ {
		n := 1
		if len(sizes) > 0 {
			n += int(sizes[i%len(sizes)])
		}
		k, err := c.Read(buf[:n])
		out = append(out, buf[:k]...)
		if err != nil {
			return out, err
		}
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader: it must not
// panic, must end, and must never return more than the input carried.
func FuzzFrameReader(f *testing.F) {
	f.Add(bin("PUB a 1\r\nx\r\n"), false, []byte{3})
	f.Add(append(frame(0x02, []byte("SUB a"), false), frame(0x80, []byte(" 1\r\n"), false)...), false, []byte{0})
	f.Add(frame(0x89, []byte("hi"), false), false, []byte{7})
	f.Add(frame(0x88, closeBody(1000, "bye"), false), false, []byte{})
	f.Add(frame(0x81, []byte("text"), false), false, []byte{1})
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, false, []byte{1})
	var d deflater
	z, _ := d.deflate([][]byte{bytes.Repeat([]byte("MSG a 1 5\r\nhello\r\n"), 50)})
	f.Add(frame(0xc2, z, false), true, []byte{200})
	f.Fuzz(func(t *testing.T, in []byte, compress bool, sizes []byte) {
		out, err := drain(readerOver(in, compress), sizes)
		if err == nil {
			t.Fatal("drain ended without an error")
		}
		if !compress && len(out) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
	})
}

// FuzzFrameSplit cuts a stream into valid frames at fuzzed points (some
// fragmented into continuation frames, pings between them): the reader
// must return exactly the stream.
func FuzzFrameSplit(f *testing.F) {
	f.Add([]byte("PUB foo 5\r\nhello\r\nPING\r\n"), []byte{3, 0, 9}, []byte{5})
	f.Add(bytes.Repeat([]byte("x"), 3000), []byte{255, 40}, []byte{0, 255})
	f.Fuzz(func(t *testing.T, stream, cuts, sizes []byte) {
		var in []byte
		rest := stream
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, 1+int(cuts[i%len(cuts)])*(1+i%3))
			}
			part := rest[:n]
			rest = rest[n:]
			if i%4 == 1 && len(part) > 1 {
				// Fragment: a first frame without FIN, a continuation with it,
				// and a ping between them (allowed mid-message).
				h := len(part) / 2
				in = append(in, frame(0x02, part[:h], false)...)
				in = append(in, frame(0x89, []byte("p"), false)...)
				in = append(in, frame(0x80, part[h:], false)...)
				continue
			}
			in = append(in, frame(0x82, part, false)...)
		}
		out, err := drain(readerOver(in, false), sizes)
		var ce *CloseError
		if errors.As(err, &ce) {
			if len(stream) > 1<<16 {
				return // a frame over the limit
			}
			t.Fatalf("refused a valid stream: %v", err)
		}
		if err != io.EOF {
			t.Fatalf("ended with %v, want EOF", err)
		}
		if !bytes.Equal(out, stream) {
			t.Fatalf("stream of %d bytes came out as %d bytes", len(stream), len(out))
		}
	})
}
