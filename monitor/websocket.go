package monitor

import (
	"net"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/ws"
)

// WebsocketVarz is the varz "websocket" block, with nats-server's field
// names (it is always present; empty without a WebSocket listener).
type WebsocketVarz struct {
	Host             string        `json:"host,omitempty"`
	Port             int           `json:"port,omitempty"`
	Advertise        string        `json:"advertise,omitempty"`
	HandshakeTimeout time.Duration `json:"handshake_timeout,omitempty"`
	NoTLS            bool          `json:"no_tls,omitempty"`
	SameOrigin       bool          `json:"same_origin,omitempty"`
	AllowedOrigins   []string      `json:"allowed_origins,omitempty"`
	Compression      bool          `json:"compression,omitempty"`
}

// websocketVarz describes the first WebSocket client listener of o, bound
// at addrs[ws.Name].
func websocketVarz(o broker.Options, addrs map[string]net.Addr) WebsocketVarz {
	var v WebsocketVarz
	for _, l := range o.Listeners {
		t, ok := l.Transport.(*ws.Transport)
		if !ok {
			continue
		}
		cfg := t.Config()
		v.Host, _, _ = net.SplitHostPort(l.Addr)
		if a := addrs[ws.Name]; a != nil {
			if _, p, err := net.SplitHostPort(a.String()); err == nil {
				v.Port, _ = strconv.Atoi(p)
			}
		}
		v.Advertise = l.Advertise
		v.HandshakeTimeout = cfg.HandshakeTimeout
		v.NoTLS = cfg.TLS == nil
		v.SameOrigin = cfg.SameOrigin
		v.AllowedOrigins = cfg.AllowedOrigins
		v.Compression = cfg.Compression
		break
	}
	return v
}
