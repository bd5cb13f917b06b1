package ws

import (
	"bufio"
	"io"
)

// Layer puts a byte-stream codec between the frames and the socket, from
// the next read and write on: wrap gets what the frames were read from
// (the buffered socket, with what it already holds) and written to, and
// returns what they are read from and written to from now on. Each
// Write to the returned writer is a whole frame (or a close frame) and
// must reach the peer by itself (a compressor flushes it).
//
// nats-server's leaf nodes over WebSocket switch to S2 this way, under
// the WebSocket framing, once their INFO exchange chose it. Call it
// between frames, with the peer sending nothing until it has switched
// too (the handshake guarantees both).
func (c *Conn) Layer(wrap func(r io.Reader, w io.Writer) (io.Reader, io.Writer)) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	r, w := wrap(c.br, c.raw)
	c.br = bufio.NewReaderSize(r, readBufSize)
	c.layer = w
	c.tcp = nil // no writev to the socket, no resumable writes
}

// out is what frames are written to: the socket or a Layer's writer.
func (c *Conn) out() io.Writer {
	if c.layer != nil {
		return c.layer
	}
	return c.raw
}
