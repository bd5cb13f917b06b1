// Package transport is the seam between the broker and the byte streams its
// peers arrive on. The broker only ever sees a net.Conn carrying the NATS text
// protocol; whether that stream is a TCP socket, a TLS session or a QUIC stream
// is the transport's business.
//
// Implementations live in sub-packages (transport/tcp, transport/quic).
package transport

import (
	"context"
	"net"
)

// Listener accepts inbound streams. net.Listener satisfies it.
type Listener interface {
	// Accept blocks until the next stream is ready or the listener is closed.
	// After Close it returns an error wrapping net.ErrClosed.
	Accept() (net.Conn, error)
	// Close stops accepting; streams already returned stay open and belong to
	// whoever accepted them. Close unblocks a pending Accept.
	Close() error
	// Addr is the bound address (with the real port when 0 was asked for).
	Addr() net.Addr
}

// Transport opens listeners and dials peers over one kind of network.
type Transport interface {
	// Name is the short label shown to operators ("tcp", "quic").
	Name() string
	// Listen binds addr ("host:port") and returns a listener for it.
	Listen(addr string) (Listener, error)
	// Dial connects to addr. The returned stream is ready for the NATS protocol:
	// any handshake the transport needs (TLS, QUIC stream set-up) is done.
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// The optional interfaces below let a transport tell the broker more than
// the three methods above; the broker checks for them with a type assertion.

// BuffersWriter is implemented by streams on which several buffers are
// better written by one call than by one Write each (a WebSocket frame
// around all of them). The broker's writer then uses it instead of
// net.Buffers.WriteTo, with the same contract: it consumes what it wrote
// from v and returns the count.
type BuffersWriter interface {
	WriteBuffers(v *net.Buffers) (int64, error)
}

// URLScheme is implemented by transports whose client URLs use a scheme of
// their own ("ws", "wss"); without it the broker uses "nats" for "tcp" and
// the transport's name otherwise.
type URLScheme interface {
	Scheme() string
}

// Updater is implemented by transports that can take the settings of next,
// a transport of the same kind, while their listeners stay bound: a reload
// that keeps a listener calls it, so new connections get the new settings.
type Updater interface {
	Update(next Transport) error
}

// WriteBuffers writes v to c, with c's own BuffersWriter when it has one.
func WriteBuffers(c net.Conn, v *net.Buffers) (int64, error) {
	if bw, ok := c.(BuffersWriter); ok {
		return bw.WriteBuffers(v)
	}
	return v.WriteTo(c)
}
