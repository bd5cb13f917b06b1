package broker_test

import (
	"io"
	"net/http"
	"strings"

	"bytes"
	"context"
	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

// startTCPAndWS starts a broker serving TCP and WebSocket at once.
func startTCPAndWS(t *testing.T, cfg ws.Config) *broker.Server {
	t.Helper()
	wt, err := ws.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		{Transport: wt, Addr: "127.0.0.1:0"},
	}
	return startServer(t, o, nil)
}

func connectWS(t *testing.T, srv *broker.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(0)}, opts...)
	nc, err := nats.Connect("ws://"+srv.Addrs()[ws.Name].String(), opts...)
	if err != nil {
		t.Fatalf("connect over ws: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestWebSocketAndTCPShareSubjects(t *testing.T) {
	srv := startTCPAndWS(t, ws.Config{Compression: true})
	tcpc := connectTCP(t, srv)
	wsc := connectWS(t, srv, nats.Compression(true))
	for _, dir := range []struct {
		name     string
		pub, sub *nats.Conn
	}{{"tcp->ws", tcpc, wsc}, {"ws->tcp", wsc, tcpc}} {
		s, _ := dir.sub.SubscribeSync("x." + dir.name)
		dir.sub.Flush()
		for i := 0; i < 100; i++ {
			dir.pub.Publish("x."+dir.name, []byte{byte(i)})
		}
		dir.pub.Flush()
		for i := 0; i < 100; i++ {
			if m := recv(t, s); m.Data[0] != byte(i) {
				t.Fatalf("%s: message %d out of order", dir.name, i)
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range srv.Connections(false) {
		seen[c.Transport] = true
	}
	if !seen["tcp"] || !seen["websocket"] {
		t.Fatalf("connection transports %v", seen)
	}
}

// WebSocket clients get the WebSocket connect_urls, TCP clients the TCP
// ones, and both hear of a change at once.
func TestWebSocketConnectURLs(t *testing.T) {
	srv := startTCPAndWS(t, ws.Config{})
	tcpc := connectTCP(t, srv)
	wsc := connectWS(t, srv)
	srv.SetConnectURLs([]string{"10.0.0.1:4222"})
	srv.SetWebSocketConnectURLs([]string{"10.0.0.1:8080", "10.0.0.2:8080"})
	eventually(t, 5*time.Second, "ws client learns the ws urls", func() bool {
		// nats.go may order its pool at random.
		return slices.Equal(slices.Sorted(slices.Values(wsc.DiscoveredServers())), []string{"ws://10.0.0.1:8080", "ws://10.0.0.2:8080"})
	})
	eventually(t, 5*time.Second, "tcp client learns the tcp urls", func() bool {
		return slices.Equal(tcpc.DiscoveredServers(), []string{"nats://10.0.0.1:4222"})
	})
	urls := srv.ClientURLs("127.0.0.1")
	if len(urls) != 2 || urls[1] != "ws://"+srv.Addrs()[ws.Name].String() {
		t.Fatalf("client urls %v", urls)
	}
}

// A raw WebSocket peer that breaks the framing is closed; nats.go clients on
// the same listener carry on.
func TestWebSocketBadPeerLeavesOthers(t *testing.T) {
	srv := startTCPAndWS(t, ws.Config{})
	a, b := connectWS(t, srv), connectWS(t, srv)
	sub, _ := b.SubscribeSync("ok")
	b.Flush()
	bad, err := ws.New(ws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{"PUB x 99999999\r\n", "NOT A PROTOCOL\r\n"} {
		c := dialWS(t, bad, srv)
		c.Write([]byte(payload))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		var got []byte
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if !slices.ContainsFunc([]string{"Maximum Payload", "Unknown Protocol"}, func(s string) bool { return contains(got, s) }) {
			t.Fatalf("%q: got %q", payload, got)
		}
	}
	a.Publish("ok", []byte("still here"))
	a.Flush()
	if m := recv(t, sub); string(m.Data) != "still here" {
		t.Fatalf("got %q", m.Data)
	}
}

// dialWS dials srv's WebSocket listener with tr's client side.
func dialWS(t *testing.T, tr *ws.Transport, srv *broker.Server) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx, srv.Addrs()[ws.Name].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

// startWSAuth starts a broker whose WebSocket listener has la over auth.
func startWSAuth(t *testing.T, auth *broker.AuthOptions, la *broker.ListenerAuth) *broker.Server {
	t.Helper()
	wt, err := ws.New(ws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Auth = auth
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		{Transport: wt, Addr: "127.0.0.1:0", Auth: la},
	}
	return startServer(t, o, nil)
}

func tryWS(srv *broker.Server, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect("ws://"+srv.Addrs()[ws.Name].String(), append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(2 * time.Second)}, opts...)...)
}

// TestWebSocketAuthOverride: the websocket block's authorization applies
// to WebSocket clients only (nats-server's override): a user/password
// there is required over ws:// even when TCP needs nothing; its token
// replaces the server's; its no_auth_user logs credential-less WebSocket
// clients in as that user.
func TestWebSocketAuthOverride(t *testing.T) {
	srv := startWSAuth(t, nil, &broker.ListenerAuth{User: "wsu", Password: "p"})
	if nc, err := tryWS(srv); err == nil {
		nc.Close()
		t.Fatal("a WebSocket client without the listener's credentials connected")
	}
	nc, err := tryWS(srv, nats.UserInfo("wsu", "p"))
	if err != nil {
		t.Fatalf("the listener's user: %v", err)
	}
	nc.Close()
	connectTCP(t, srv) // TCP needs nothing

	users := &broker.AuthOptions{Accounts: []broker.Account{{Name: "A", Users: []broker.User{{Name: "alice", Password: "a"}}}}}
	srv = startWSAuth(t, users, &broker.ListenerAuth{Token: "wstoken"})
	if nc, err = tryWS(srv, nats.Token("wstoken")); err != nil {
		t.Fatalf("the listener's token: %v", err)
	}
	nc.Close()
	if nc, err := tryConnect(srv, nats.Token("wstoken")); err == nil {
		nc.Close()
		t.Fatal("the WebSocket token admitted a TCP client")
	}

	srv = startWSAuth(t, users, &broker.ListenerAuth{NoAuthUser: "alice"})
	anon, err := tryWS(srv)
	if err != nil {
		t.Fatalf("no_auth_user over ws: %v", err)
	}
	defer anon.Close()
	alice, err := tryConnect(srv, nats.UserInfo("alice", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	sub, _ := alice.SubscribeSync("in.a")
	alice.Flush()
	_ = anon.Publish("in.a", []byte("same account"))
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("the credential-less WebSocket client is not alice in A: %v", err)
	}
	if nc, err := tryConnect(srv); err == nil {
		nc.Close()
		t.Fatal("no_auth_user of the WebSocket listener admitted a TCP client")
	}

	// A no_auth_user that does not exist is refused up front.
	wt, _ := ws.New(ws.Config{})
	o := testOptions()
	o.Auth = users
	o.Listeners = []broker.Listener{{Transport: tcp.New(), Addr: "127.0.0.1:0"}, {Transport: wt, Addr: "127.0.0.1:0", Auth: &broker.ListenerAuth{NoAuthUser: "ghost"}}}
	if _, err := broker.New(o); err == nil || !strings.Contains(err.Error(), "no_auth_user") {
		t.Fatalf("unknown no_auth_user: %v", err)
	}
}

// TestWebSocketCookies: user_cookie and pass_cookie stand in for the
// CONNECT fields a browser client leaves empty.
func TestWebSocketCookies(t *testing.T) {
	users := &broker.AuthOptions{Users: []broker.User{{Name: "alice", Password: "a"}}}
	srv := startWSAuth(t, users, &broker.ListenerAuth{UserCookie: "u", PassCookie: "p"})
	dial := func(cookie string) string {
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		d := gws.Dialer{Header: gws.HandshakeHeaderHTTP(h), Timeout: 2 * time.Second}
		nc, br, _, err := d.Dial(context.Background(), "ws://"+srv.Addrs()[ws.Name].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
		// What the server sent right after the upgrade may be in br.
		var c io.ReadWriter = nc
		if br != nil {
			c = struct {
				io.Reader
				io.Writer
			}{io.MultiReader(br, nc), nc}
		}
		if _, err := wsutil.ReadServerBinary(c); err != nil { // INFO
			t.Fatal(err)
		}
		if err := wsutil.WriteClientBinary(c, []byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		b, err := wsutil.ReadServerBinary(c)
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	if got := dial("u=alice; p=a"); !strings.HasPrefix(got, "PONG") {
		t.Fatalf("credentials from cookies: %q", got)
	}
	if got := dial("u=alice; p=wrong"); !strings.Contains(got, "Authorization Violation") {
		t.Fatalf("wrong cookie password: %q", got)
	}
	if got := dial(""); !strings.Contains(got, "Authorization Violation") {
		t.Fatalf("no cookies: %q", got)
	}
}
