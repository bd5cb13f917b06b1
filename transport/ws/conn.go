package ws

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// readBufSize is the buffered reader under the frame reader: big enough
// that many small frames arrive in one read, small enough per connection.
// Reads of a large frame into a large buffer bypass it.
const readBufSize = 8 << 10

// Conn is one WebSocket connection as a net.Conn: Read returns the payload
// of the peer's binary frames as one byte stream, Write sends each call as
// one binary frame (WriteBuffers sends several buffers as one frame).
//
// One goroutine may Read while another writes. Control frames are handled
// inside Read: a ping is answered with a pong, a close is answered with a
// close and ends the stream with io.EOF, and a frame that breaks RFC 6455
// or this mapping (docs/websocket.md) makes Read send a close frame with
// the status that says why and return a *CloseError.
type Conn struct {
	raw    net.Conn     // the TCP socket, or the TLS session over it
	tcp    *net.TCPConn // raw when it is plain TCP: writev and resumable writes
	br     *bufio.Reader
	layer  io.Writer // a codec under the frames (layer.go); nil: none
	server bool      // our end is the server: the peer masks, we do not
	// compress: permessage-deflate was negotiated.
	compress bool
	maxMsg   int
	req      *http.Request // the upgrade request (server side), body-less

	rmu sync.Mutex // held by Read; Close takes it to drain a peer's close reply
	rd  reader     // guarded by rmu

	wmu sync.Mutex // one frame at a time on the wire
	w   writer     // guarded by wmu

	closeSent atomic.Bool // a close frame went out: never send another
	closeOnce sync.Once
	closeErr  error
}

var _ net.Conn = (*Conn)(nil)

func newConn(raw net.Conn, br *bufio.Reader, server, compress bool, maxMsg int, req *http.Request) *Conn {
	c := &Conn{raw: raw, br: br, server: server, compress: compress, maxMsg: maxMsg, req: req}
	c.tcp, _ = raw.(*net.TCPConn)
	if c.tcp != nil {
		_ = c.tcp.SetNoDelay(true)
	}
	c.rd.init()
	return c
}

// Request is the HTTP upgrade request the client sent (headers, cookies,
// URL; no body); nil on the client side.
func (c *Conn) Request() *http.Request { return c.req }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.compress }

// TLS reports whether the connection runs over TLS (wss://).
func (c *Conn) TLS() bool { _, ok := c.raw.(*tls.Conn); return ok }

// ResumableWrites reports whether a Write cut short by its deadline may
// simply be continued by writing the rest (the broker's inline flush relies
// on it): true for an uncompressed server end on plain TCP, which keeps the
// unsent rest of the frame's header and the count of its payload bytes and
// sends them first on the next write. Compressed and TLS streams are not.
func (c *Conn) ResumableWrites() bool { return c.server && c.tcp != nil && !c.compress }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// closeLinger bounds the close frame Close tries to send.
const closeLinger = 100 * time.Millisecond

// Close sends a close frame (1000, normal closure) unless one was sent, the
// writer is busy or a frame is half written, then closes the socket. It
// never waits for a blocked writer.
func (c *Conn) Close() error { return c.closeWithStatus(StatusNormal, "") }

func (c *Conn) closeWithStatus(status int, reason string) error {
	c.closeOnce.Do(func() {
		if c.wmu.TryLock() {
			if !c.w.midFrame() && !c.closeSent.Load() {
				_ = c.raw.SetWriteDeadline(time.Now().Add(closeLinger))
				_ = c.writeControlLocked(opClose, closeBody(status, reason))
			}
			c.wmu.Unlock()
		}
		c.drainClose()
		c.closeErr = c.raw.Close()
	})
	return c.closeErr
}

// drainClose waits, up to closeLinger, for the peer's answer to our close
// frame when no Read is running (the reader stopped after a refusal).
// Closing the socket before that answer arrives would make it bounce as a
// reset, and a reset makes the peer's system drop what it had not yet read:
// the -ERR or close frame that says why.
func (c *Conn) drainClose() {
	if !c.closeSent.Load() || !c.rmu.TryLock() {
		return
	}
	defer c.rmu.Unlock()
	_ = c.raw.SetReadDeadline(time.Now().Add(closeLinger))
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.rd.hdr[:])
		if err != nil {
			return
		}
		if _, err := c.br.Discard(int(min(h.Length, 1<<30))); err != nil || h.OpCode == opClose {
			return
		}
	}
}

// CloseWrite sends a close frame (1000) and shuts the write side of the
// socket, so that what was written last (a -ERR) reaches the peer before the
// connection ends; the peer's own close frame then ends Read with io.EOF.
func (c *Conn) CloseWrite() error {
	c.wmu.Lock()
	if !c.w.midFrame() && !c.closeSent.Load() {
		_ = c.writeControlLocked(opClose, closeBody(StatusNormal, ""))
	}
	c.wmu.Unlock()
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
