// Package tcp is the TCP transport, optionally wrapped in TLS.
package tcp

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/murmurmq/murmur/transport"
)

// Transport is the TCP transport. The zero value is plain TCP.
type Transport struct {
	// TLS, when set, makes Listen wrap accepted sockets and Dial wrap dialed
	// ones in TLS (server or client side respectively).
	TLS *tls.Config
}

var _ transport.Transport = (*Transport)(nil)

// New returns a plain TCP transport.
func New() *Transport { return &Transport{} }

// Name implements transport.Transport.
func (t *Transport) Name() string { return "tcp" }

// Listen implements transport.Transport.
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if t.TLS != nil {
		return tls.NewListener(ln, t.TLS), nil
	}
	return ln, nil
}

// Dial implements transport.Transport.
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if t.TLS == nil {
		return c, nil
	}
	cfg := t.TLS
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		// Verify the peer against the host we dialed.
		host, _, _ := net.SplitHostPort(addr)
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}
