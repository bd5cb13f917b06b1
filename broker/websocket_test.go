package broker_test

import (
	"bytes"
	"context"
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
