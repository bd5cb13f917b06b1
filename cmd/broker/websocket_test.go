package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/ws"
)

func TestWebSocketConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	path := writeConf(t, dir, fmt.Sprintf(`
listen: 127.0.0.1:-1
max_payload: 1000
websocket {
  host: 127.0.0.2
  port: 8443
  advertise: "ws.example:443"
  tls { cert_file: %q, key_file: %q }
  compression: true
  same_origin: true
  allowed_origins: ["https://app.example"]
  handshake_timeout: "3s"
}`, cert, key))
	cfg, err := parseFlags([]string{"-c", path, "--websocket_port", "9443"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ls := cfg.opts.Listeners
	if len(ls) != 2 || ls[0].Transport.Name() != "tcp" || ls[1].Transport.Name() != ws.Name {
		t.Fatalf("listeners %+v", ls)
	}
	wt := ls[1].Transport.(*ws.Transport)
	c := wt.Config()
	if ls[1].Addr != "127.0.0.2:9443" || ls[1].Advertise != "ws.example:443" || wt.Scheme() != "wss" ||
		!c.Compression || !c.SameOrigin || !slices.Equal(c.AllowedOrigins, []string{"https://app.example"}) ||
		c.HandshakeTimeout != 3*time.Second || c.MaxMessage != 8000 {
		t.Fatalf("websocket listener %+v, config %+v", ls[1], c)
	}
}

func TestWebSocketConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"websocket { port: 1 }", ":1: websocket: websocket requires TLS configuration"},
		{"websocket {\n port: 1\n no_tls: true\n bogus: 2\n}", ":4: websocket.bogus: unknown key"},
		{"websocket {\n port: 1\n no_tls: true\n ping_interval: 1\n}", ":4: websocket.ping_interval: not supported yet"},
		{"websocket {\n port: 1\n no_tls: true\n headers: { Upgrade: x }\n}", `ws: header "Upgrade": set by the handshake itself`},
		{"websocket {\n port: 1\n no_tls: true\n jwt_cookie: jwt\n}", ":4: websocket.jwt_cookie: trusted operators or trusted keys configuration is required"},
		{"websocket {\n port: 1\n no_tls: true\n no_auth_user: ghost\n}", ":1: websocket: no_auth_user: \"ghost\" not present"},
		{"websocket { port: 1, no_tls: true, allowed_origins: [\"ftp://x\"] }", `:1: websocket: ws: allowed origin "ftp://x": must be an absolute URL with http or https`},
		{"websocket { port: 1, no_tls: true, handshake_timeout: \"soon\" }", `:1: websocket.handshake_timeout: "soon" is not a duration`},
		{"ws { port: 70000 }", ":1: ws.port: 70000 out of range"},
	} {
		path := writeConf(t, t.TempDir(), tc.text)
		_, err := parseFlags([]string{"-c", path}, io.Discard)
		want := tc.want
		if strings.HasPrefix(want, ":") {
			want = path + want
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n error %v\n want %q", tc.text, err, want)
		}
	}
}

// Reload moves the WebSocket listener: the new port accepts, the old one
// does not, a client on the old one stays, and the cluster's WebSocket
// clients are told the new address in connect_urls.
func TestReloadMovesWebSocket(t *testing.T) {
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	conf := func(wsPort int, seeds string) string {
		return fmt.Sprintf("listen: 127.0.0.1:-1\nhttp_port: 0\ncluster { listen: 127.0.0.1:0 }\n"+
			"gossip {\n  listen: 127.0.0.1:0\n  profile: local\n  seeds: [%s]\n}\n"+
			"websocket { host: 127.0.0.1, port: %d, no_tls: true }\n", seeds, wsPort)
	}
	a := startNode(t, writeConf(t, t.TempDir(), conf(p1, "")))
	seedA := fmt.Sprintf("\"127.0.0.1:%d\"", a.cl.Gossip().Port())
	b := startNode(t, writeConf(t, t.TempDir(), conf(-1, seedA)))
	waitFor(t, "b to join a", func() bool { return a.members() == 2 && b.members() == 2 })

	onB, err := nats.Connect("ws://"+b.srv.Addrs()[ws.Name].String(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer onB.Close()
	old, err := nats.Connect(fmt.Sprintf("ws://127.0.0.1:%d", p1), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	sub, _ := old.SubscribeSync("moved")
	old.Flush()
	want := func(p int) string { return fmt.Sprintf("ws://127.0.0.1:%d", p) }
	waitFor(t, "b's ws client to learn a's ws url", func() bool {
		return slices.Contains(onB.DiscoveredServers(), want(p1))
	})

	a.reload(t, conf(p2, ""))
	if got := a.srv.Addrs()[ws.Name].String(); got != fmt.Sprintf("127.0.0.1:%d", p2) {
		t.Fatalf("a's websocket on %s after reload", got)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p1), time.Second); err == nil {
		c.Close()
		t.Fatal("the old port still accepts")
	}
	pub, err := nats.Connect(want(p2), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("new port: %v", err)
	}
	defer pub.Close()
	pub.Publish("moved", []byte("x"))
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("client on the old port after the move: %v", err)
	}
	waitFor(t, "b's ws client to learn a's new ws url", func() bool {
		return slices.Contains(onB.DiscoveredServers(), want(p2))
	})
}

// TestWebSocketAuthConfig: the websocket block's authorization,
// no_auth_user and cookies become the listener's auth override.
func TestWebSocketAuthConfig(t *testing.T) {
	path := writeConf(t, t.TempDir(), `
authorization { users: [ {user: alice, password: a} ] }
websocket {
  port: -1
  no_tls: true
  authorization { user: wsu, password: p, token: t, timeout: 3 }
  no_auth_user: alice
  user_cookie: u
  pass_cookie: pw
  token_cookie: tk
  headers: { "X-Frame-Options": "DENY" }
}`)
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	la := cfg.opts.Listeners[1].Auth
	want := broker.ListenerAuth{User: "wsu", Password: "p", Token: "t", Timeout: 3 * time.Second, NoAuthUser: "alice",
		UserCookie: "u", PassCookie: "pw", TokenCookie: "tk"}
	if la == nil || *la != want {
		t.Fatalf("listener auth %+v, want %+v", la, want)
	}
	if h := cfg.opts.Listeners[1].Transport.(*ws.Transport).Config().Headers; h["X-Frame-Options"] != "DENY" {
		t.Fatalf("headers %v", h)
	}
}
