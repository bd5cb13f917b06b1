package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// Conn is one NATS connection: a QUIC connection and its single bidirectional
// stream, seen as a net.Conn. Read, Write and Close may be called from
// different goroutines; like net.Conn, concurrent Reads (or Writes) with each
// other are not meaningful.
type Conn struct {
	qc     *quicgo.Conn
	str    *quicgo.Stream
	linger time.Duration

	// wmu serialises Write with the stream's Close: quic-go forbids calling
	// SendStream.Close concurrently with Write.
	wmu sync.Mutex

	closing   atomic.Bool // set as Close starts; Read/Write then report net.ErrClosed
	peerDone  atomic.Bool // the peer ended its side (FIN read or connection closed)
	closeOnce sync.Once
}

var _ net.Conn = (*Conn)(nil)

func newConn(qc *quicgo.Conn, str *quicgo.Stream, linger time.Duration) *Conn {
	return &Conn{qc: qc, str: str, linger: linger}
}

// errClosed is returned by every call after Close, matching net.Conn usage.
var errClosed = fmt.Errorf("quic: use of closed connection: %w", net.ErrClosed)

// Read reads NATS protocol bytes. A peer's graceful close (FIN, or
// CONNECTION_CLOSE with CodeNoError) reads as io.EOF, as on TCP; an idle
// timeout, reset or other close code surfaces as quic-go's error, and a
// deadline as a net.Error whose Timeout() is true.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.str.Read(p)
	if err != nil {
		err = c.mapErr(err)
	}
	return n, err
}

// Write writes NATS protocol bytes. It blocks while the peer's flow-control
// window is full, until the write deadline; Close unblocks it.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return 0, errClosed
	}
	n, err := c.str.Write(p)
	if err != nil {
		err = c.mapErr(err)
	}
	return n, err
}

// mapErr turns quic-go's errors into what net.Conn users test for.
func (c *Conn) mapErr(err error) error {
	if c.closing.Load() {
		return errClosed
	}
	if errors.Is(err, io.EOF) {
		c.peerDone.Store(true)
		return io.EOF
	}
	var ae *quicgo.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		c.peerDone.Store(true)
		if ae.ErrorCode == CodeNoError {
			return io.EOF
		}
	}
	return err
}

// Close closes the connection gracefully and is safe to call concurrently and
// repeatedly; calls after the first return an error wrapping net.ErrClosed.
//
// quic-go's CONNECTION_CLOSE discards stream data not yet delivered, which
// would lose a final -ERR or the last PUBs before a client's Close. So unless
// the peer has already ended its side, Close sends FIN on the stream and waits
// up to the configured linger for the peer to read it and close the
// connection (both sides of this package do so on EOF), then closes with
// CodeNoError. Close therefore blocks for at most the linger period.
func (c *Conn) Close() error {
	err := errClosed
	c.closeOnce.Do(func() {
		err = nil
		c.closing.Store(true)
		if c.linger > 0 && !c.peerDone.Load() {
			c.finish()
			t := time.NewTimer(c.linger)
			select {
			case <-c.qc.Context().Done():
			case <-t.C:
			}
			t.Stop()
		}
		// A local CloseWithError always returns nil; nothing to report.
		_ = c.qc.CloseWithError(CodeNoError, "")
	})
	return err
}

// finish sends FIN after the data already written, first kicking any Write
// blocked on flow control so it cannot hold wmu for the whole linger.
func (c *Conn) finish() {
	if !c.wmu.TryLock() {
		_ = c.str.SetWriteDeadline(time.Unix(1, 0))
		c.wmu.Lock()
	}
	_ = c.str.Close()
	c.wmu.Unlock()
}

// CloseWithError closes the connection at once with code and reason, which
// the peer sees in CONNECTION_CLOSE. Unlike Close it does not linger, so data
// still in flight may be lost. It is a no-op after Close.
func (c *Conn) CloseWithError(code quicgo.ApplicationErrorCode, reason string) error {
	err := errClosed
	c.closeOnce.Do(func() {
		err = nil
		c.closing.Store(true)
		_ = c.qc.CloseWithError(code, reason)
	})
	return err
}

// LocalAddr is the local UDP address of the QUIC connection.
func (c *Conn) LocalAddr() net.Addr { return c.qc.LocalAddr() }

// RemoteAddr is the peer's UDP address (it can change if the peer migrates).
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// SetDeadline sets the stream's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.str.SetDeadline(t) }

// SetReadDeadline sets the stream's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.str.SetReadDeadline(t) }

// SetWriteDeadline sets the stream's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.str.SetWriteDeadline(t) }

// ResumableWrites reports that a Write cut short by its deadline leaves the
// stream usable: the unwritten rest can be written later. The broker only
// writes from a producer goroutine (with a short deadline) on such
// connections.
func (c *Conn) ResumableWrites() bool { return true }

// ConnectionState exposes the TLS state (version, peer certificates for
// mutual TLS, negotiated ALPN) for monitoring and authentication.
func (c *Conn) ConnectionState() tls.ConnectionState {
	return c.qc.ConnectionState().TLS
}

// PeerRestarted reports whether the connection ended with a stateless
// reset (RFC 9000 §10.3): a packet of ours reached a process at the peer's
// address that holds the peer's reset key but not this connection, such as
// a broker restarted with the same certificate. The peer is therefore up
// again, and a redial can go at once.
func (c *Conn) PeerRestarted() bool {
	if c.qc.Context().Err() == nil {
		return false
	}
	var sr *quicgo.StatelessResetError
	return errors.As(context.Cause(c.qc.Context()), &sr)
}
