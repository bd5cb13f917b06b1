package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	conf "github.com/murmurmq/murmur/config"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

// wsFlags are nats-server's `websocket { ... }` block and the
// --websocket_host / --websocket_port flags: a WebSocket client listener
// next to TCP (docs/websocket.md).
type wsFlags struct {
	host             string
	port             int
	advertise        string
	noTLS            bool
	tls              *broker.TLSOptions
	tlsAt            *conf.Value // where the tls block was, for errors
	compression      bool
	sameOrigin       bool
	allowedOrigins   []string
	handshakeTimeout time.Duration
	block            *conf.Value // the websocket block, for errors (nil: none)
	auth             broker.ListenerAuth
	jwtCookie        *conf.Value // where jwt_cookie was, for errors
	headers          map[string]string
}

func (wf *wsFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&wf.port, "websocket_port", wf.port, "WebSocket client `port` (0 = off; -1 = random); needs no_tls or a tls block in the config file for wss://")
	fs.StringVar(&wf.host, "websocket_host", wf.host, "WebSocket listen `host` (default: --addr)")
}

// keys are the websocket block's keys, with nats-server's names and
// aliases. ping_interval is refused rather than ignored.
func (wf *wsFlags) keys() setter {
	ks := keys{
		"host":      str(&wf.host),
		"port":      integer(&wf.port, -1, 65535),
		"listen":    hostPort(&wf.host, &wf.port),
		"advertise": addr(&wf.advertise),
		"no_tls":    boolean(&wf.noTLS),
		"tls": func(v *conf.Value) (err error) {
			wf.tlsAt = v
			wf.tls, err = decodeTLS(v)
			return err
		},
		"compression":       boolean(&wf.compression),
		"same_origin":       boolean(&wf.sameOrigin),
		"allowed_origins":   stringSlice(&wf.allowedOrigins),
		"handshake_timeout": duration(&wf.handshakeTimeout),
	}
	la := &wf.auth
	auth := block(keys{
		"user": str(&la.User), "username": str(&la.User),
		"password": str(&la.Password), "pass": str(&la.Password),
		"token": str(&la.Token), "timeout": duration(&la.Timeout),
	})
	ks["authorization"], ks["authentication"] = auth, auth
	ks["no_auth_user"] = str(&la.NoAuthUser)
	ks["jwt_cookie"] = func(v *conf.Value) (err error) { wf.jwtCookie = v; la.JWTCookie, err = v.AsString(); return err }
	ks["user_cookie"], ks["pass_cookie"], ks["token_cookie"] = str(&la.UserCookie), str(&la.PassCookie), str(&la.TokenCookie)
	ks["headers"] = func(v *conf.Value) error {
		m, err := v.AsMap()
		if err != nil {
			return err
		}
		wf.headers = map[string]string{}
		for _, f := range m.Fields {
			s, err := f.Value.AsString()
			if err != nil {
				return err
			}
			wf.headers[f.Key] = s
		}
		return nil
	}
	for _, k := range []string{"ping_interval"} {
		ks[k] = func(v *conf.Value) error {
			return v.Errorf("not supported yet by Murmur (docs/websocket.md); remove it or use the top-level settings")
		}
	}
	for alias, key := range map[string]string{
		"net": "host", "compress": "compression",
		"allowed_origin": "allowed_origins", "allow_origins": "allowed_origins", "allow_origin": "allowed_origins",
		"origins": "allowed_origins", "origin": "allowed_origins",
	} {
		ks[alias] = ks[key]
	}
	inner := block(ks)
	return func(v *conf.Value) error {
		wf.block = v
		return inner(v)
	}
}

// apply adds the WebSocket listener to o when a port is set, after the TCP
// (and QUIC) listeners. As nats-server, it wants TLS or no_tls: true.
func (wf *wsFlags) apply(o *broker.Options) (*ws.Transport, error) {
	if wf.port == 0 {
		return nil, nil
	}
	errorf := func(format string, a ...any) error {
		if wf.block != nil {
			return wf.block.Errorf(format, a...)
		}
		return fmt.Errorf("websocket: "+format, a...)
	}
	if wf.tls == nil && !wf.noTLS {
		return nil, errorf("websocket requires TLS configuration: add a tls block, or no_tls: true for ws://")
	}
	cfg := ws.Config{
		Compression:      wf.compression,
		SameOrigin:       wf.sameOrigin,
		AllowedOrigins:   wf.allowedOrigins,
		HandshakeTimeout: wf.handshakeTimeout,
		MaxMessage:       min(8*o.MaxPayload, 64<<20),
		Headers:          wf.headers,
	}
	if wf.tls != nil {
		cfg.TLS = wf.tls.Config
	}
	wt, err := ws.New(cfg)
	if err != nil {
		return nil, errorf("%v", err)
	}
	host := wf.host
	if host == "" {
		host = o.Host
	}
	if len(o.Listeners) == 0 {
		o.Listeners = []broker.Listener{{Transport: tcp.New(), Addr: net.JoinHostPort(o.Host, strconv.Itoa(max(o.Port, 0))), Advertise: o.ClientAdvertise}}
	}
	if wf.jwtCookie != nil && (o.Auth == nil || o.Auth.Operator == nil) {
		return nil, wf.jwtCookie.Errorf("trusted operators or trusted keys configuration is required for JWT authentication via cookie %q", wf.auth.JWTCookie)
	}
	l := broker.Listener{
		Transport: wt,
		Addr:      net.JoinHostPort(host, strconv.Itoa(max(wf.port, 0))),
		Advertise: wf.advertise,
	}
	if wf.auth != (broker.ListenerAuth{}) {
		la := wf.auth
		if err := la.Validate(o.Auth); err != nil {
			return nil, errorf("%v", err)
		}
		l.Auth = &la
	}
	o.Listeners = append(o.Listeners, l)
	return wt, nil
}
