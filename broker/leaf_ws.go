package broker

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strings"

	"github.com/murmurmq/murmur/transport/quic"
	"github.com/murmurmq/murmur/transport/ws"
)

// Leaf connections over WebSocket, as nats-server's: a remote with a
// ws:// or wss:// URL upgrades to the hub's WebSocket listener on the
// path /leafnode (nats-server leafNodeWSPath), and the hub takes such an
// upgrade as a leaf connection instead of a client. TLS is the
// WebSocket's (wss), never a second handshake after INFO.
const leafWSPath = "/leafnode"

// leafOverWebSocket hands conn to the leaf handshake when it is a
// WebSocket upgrade for /leafnode and leaf nodes are configured; it
// reports whether it did.
func (s *Server) leafOverWebSocket(conn net.Conn) bool {
	wc, ok := conn.(*ws.Conn)
	if !ok || wc.Request() == nil || !strings.HasSuffix(wc.Request().URL.EscapedPath(), leafWSPath) || s.leafs.interest == nil {
		return false
	}
	s.wg.Add(1)
	go s.acceptLeaf(conn, false)
	return true
}

// isWebSocket reports whether nc is a WebSocket connection.
func isWebSocket(nc net.Conn) bool {
	_, ok := nc.(*ws.Conn)
	return ok
}

// dialLeafConn opens the connection to a remote's URL: TCP, a WebSocket
// upgrade to /leafnode for ws:// and wss://, QUIC for quic://.
func dialLeafConn(ctx context.Context, u *url.URL, r *RemoteLeaf) (net.Conn, error) {
	tlsCfg := r.TLS
	switch u.Scheme {
	case "quic":
		return r.QUIC.Dial(ctx, u.Host)
	case "ws", "wss":
		cfg := ws.Config{Path: leafWSPath, Compression: r.WSCompression}
		if u.Scheme == "wss" {
			cfg.TLS = tlsCfg
			if cfg.TLS == nil {
				cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		}
		t, err := ws.New(cfg)
		if err != nil {
			return nil, err
		}
		return t.Dial(ctx, u.Host)
	}
	return tcpDial(ctx, u.Host)
}

// leafTransport names nc's transport, for monitoring.
func leafTransport(nc net.Conn) string {
	switch c := nc.(type) {
	case *leafS2Conn:
		return leafTransport(c.Conn)
	case *ws.Conn:
		return ws.Name
	case *quic.Conn:
		return "quic"
	}
	return "tcp"
}
