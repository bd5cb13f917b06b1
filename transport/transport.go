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
