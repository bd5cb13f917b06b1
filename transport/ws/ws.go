// Package ws is the WebSocket transport (RFC 6455): the client sends an HTTP
// upgrade, and from then on the unchanged NATS text protocol travels in
// binary frames, one byte stream across all of a connection's frames (an op
// may be split across frames, a frame may carry many ops). It is what
// nats-server's `websocket` listener serves, so browsers, nats.ws and
// nats.js (wsconnect) connect with no proxy in between.
//
// The wire mapping, the refusals and the configuration are written down in
// docs/websocket.md. Frame headers and unmasking come from
// github.com/gobwas/ws (chosen by measurement, see that document); the HTTP
// handshake is parsed with net/http, and permessage-deflate uses
// klauspost/compress/flate.
//
// Server side: New builds a Transport from a Config; Transport.Listen returns
// a Listener whose Accept yields *Conn values that have completed the upgrade
// and are ready for the broker to send INFO. Client side: Transport.Dial (for
// tests and Go programs; nats.go has its own ws:// support).
package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/murmurmq/murmur/transport"
)

// Name is the transport's label in /connz, /varz and logs (nats-server
// reports WebSocket clients the same way).
const Name = "websocket"

// Defaults.
const (
	// DefaultHandshakeTimeout bounds TLS plus the HTTP upgrade. nats-server
	// has no bound unless handshake_timeout is set; a listener open to
	// browsers needs one.
	DefaultHandshakeTimeout = 2 * time.Second
	// DefaultMaxMessage is the largest frame payload, or whole compressed
	// message once inflated, that a peer may send: nats-server's bound, 8
	// times the default max_payload.
	DefaultMaxMessage = 8 << 20
	// DefaultBacklog bounds the connections being upgraded or waiting for
	// Accept at once.
	DefaultBacklog = 256
)

// Config configures a Transport. The zero value is plain ws:// with the
// defaults above.
type Config struct {
	// TLS, when set, serves wss:// (the TLS handshake runs before the HTTP
	// upgrade, within HandshakeTimeout). Dial uses it as the client config.
	TLS *tls.Config
	// Compression accepts permessage-deflate when the client offers it
	// (browsers do), with no context takeover either way, as nats-server.
	Compression bool
	// SameOrigin refuses (403) an upgrade whose Origin header names another
	// scheme, host or port than the request's Host.
	SameOrigin bool
	// AllowedOrigins, when not empty, refuses (403) an upgrade whose Origin
	// is not one of these absolute http(s) URLs (scheme, host and port must
	// match). A request with no Origin header passes both checks: only
	// browsers send it, and other clients could send anything.
	AllowedOrigins []string
	// HandshakeTimeout bounds TLS and the upgrade; 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxMessage bounds a frame's payload and an inflated compressed
	// message; 0 means DefaultMaxMessage. A peer going over is closed with
	// status 1009.
	MaxMessage int
	// Backlog bounds upgrades in flight plus upgraded connections waiting
	// for Accept; 0 means DefaultBacklog.
	Backlog int
	// Path is the request path Dial upgrades ("" means "/"); a leaf node
	// dials "/leafnode", which a nats-server or Murmur hub's WebSocket
	// listener takes as a leaf connection.
	Path string
	// Headers are added to the upgrade response (nats-server's websocket
	// headers), in key order. Keys and values must be valid HTTP header
	// text (fill checks).
	Headers map[string]string
}

func (c *Config) fill() error {
	if c.HandshakeTimeout < 0 || c.MaxMessage < 0 || c.Backlog < 0 {
		return errors.New("ws: handshake timeout, max message and backlog must not be negative")
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Backlog == 0 {
		c.Backlog = DefaultBacklog
	}
	for k, v := range c.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("ws: header %q: not a valid HTTP header", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Extensions":
			return fmt.Errorf("ws: header %q: set by the handshake itself", k)
		}
	}
	return nil
}

// Transport is the WebSocket implementation of transport.Transport.
type Transport struct {
	st atomic.Pointer[settings]
}

// settings are a Transport's configuration, swapped whole by Update.
type settings struct {
	cfg     Config
	origins *originPolicy
}

var _ transport.Transport = (*Transport)(nil)

// New checks cfg (the allowed origins must parse) and returns a Transport.
func New(cfg Config) (*Transport, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	op, err := newOriginPolicy(cfg.SameOrigin, cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	t := &Transport{}
	t.st.Store(&settings{cfg: cfg, origins: op})
	return t, nil
}

// Update implements transport.Updater: listeners already bound upgrade new
// connections with next's settings (origins, compression, limits, TLS);
// connections already up keep theirs.
func (t *Transport) Update(next transport.Transport) error {
	n, ok := next.(*Transport)
	if !ok {
		return fmt.Errorf("ws: cannot take the settings of a %s transport", next.Name())
	}
	t.st.Store(n.st.Load())
	return nil
}

// Name implements transport.Transport.
func (t *Transport) Name() string { return Name }

// Scheme is the URL scheme clients use: "wss" with TLS, else "ws".
func (t *Transport) Scheme() string {
	if t.st.Load().cfg.TLS != nil {
		return "wss"
	}
	return "ws"
}

// Config returns the configuration in force (defaults filled in).
func (t *Transport) Config() Config { return t.st.Load().cfg }

// Listen implements transport.Transport. addr is a TCP "host:port".
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ws: listen %s: %w", addr, err)
	}
	return newListener(ln, t), nil
}

// Dial implements transport.Transport: it connects to addr over TCP (TLS
// when Config.TLS is set), runs the client side of the upgrade for
// Config.Path ("/" by default)
// and returns the client end of the connection (its frames are masked).
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := dial(ctx, addr, t.st.Load().cfg)
	if err != nil {
		return nil, err // not c: a nil *Conn in a net.Conn is not a nil interface
	}
	return c, nil
}
