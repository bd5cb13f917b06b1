package broker_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
	"github.com/murmurmq/murmur/transport/tcp"
)

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// TestReloadMovesListeners: reload changes the client port, adds a QUIC
// listener and then moves it. Each time the new address accepts, the old
// one stops accepting, and clients connected through the old ones keep
// working. A listener that cannot be bound refuses the whole reload.
func TestReloadMovesListeners(t *testing.T) {
	o := testOptions()
	o.Port = testutil.FreePort(t)
	srv := startServer(t, o, nil)

	// A subscriber connected through the first TCP port.
	first := connectTCP(t, srv)
	got, err := first.SubscribeSync("moved")
	if err != nil {
		t.Fatal(err)
	}
	first.Flush()
	oldTCP := srv.Addrs()["tcp"].String()

	// Reload 1: a new TCP port, and QUIC on.
	qt, err := quic.New(quic.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tcpPort, quicPort := testutil.FreePort(t), testutil.FreePort(t)
	o = srv.Options()
	o.Port = tcpPort
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: hostPort(tcpPort)},
		{Transport: qt, Addr: hostPort(quicPort)},
	}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	if a := srv.Addrs(); a["tcp"].String() != hostPort(tcpPort) || a["quic"].String() != hostPort(quicPort) {
		t.Fatalf("listening on %v after reload", a)
	}
	if c, err := net.DialTimeout("tcp", oldTCP, time.Second); err == nil {
		c.Close()
		t.Fatalf("the old port %s still accepts", oldTCP)
	}
	second := connectTCP(t, srv) // ClientURL: the new port
	if !strings.HasSuffix(second.ConnectedUrl(), ":"+strconv.Itoa(tcpPort)) {
		t.Fatalf("connected to %s", second.ConnectedUrl())
	}
	overQUIC := connect(t, srv, &transportCases[1])
	quicSub, err := overQUIC.SubscribeSync("moved")
	if err != nil {
		t.Fatal(err)
	}
	overQUIC.Flush()
	second.Publish("moved", []byte("1"))
	for _, s := range []*nats.Subscription{got, quicSub} {
		if m := recv(t, s); string(m.Data) != "1" {
			t.Fatalf("got %q", m.Data)
		}
	}

	// Reload 2: QUIC moves; the QUIC client connected before stays up.
	quicPort2 := testutil.FreePort(t)
	o = srv.Options()
	o.Listeners = []broker.Listener{o.Listeners[0], {Transport: o.Listeners[1].Transport, Addr: hostPort(quicPort2)}}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	if a := srv.Addrs()["quic"].String(); a != hostPort(quicPort2) {
		t.Fatalf("QUIC on %s after the second reload", a)
	}
	// The same pinned dialer that reaches the new port cannot get in on
	// the old one.
	dc := quic.DefaultDialConfig()
	dc.Fingerprint, dc.Timeout = qt.Fingerprint(), 300*time.Millisecond
	quick, err := quic.NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect("nats://"+hostPort(quicPort), nats.SetCustomDialer(quick),
		nats.MaxReconnects(0), nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Fatal("the old QUIC port still accepts")
	}
	if nc, err := nats.Connect("nats://"+hostPort(quicPort2), nats.SetCustomDialer(quick), nats.MaxReconnects(0)); err != nil {
		t.Fatalf("the same dialer on the new QUIC port: %v", err)
	} else {
		nc.Close()
	}
	third := connect(t, srv, &transportCases[1]) // the new QUIC port
	third.Publish("moved", []byte("2"))
	for _, s := range []*nats.Subscription{got, quicSub} {
		if m := recv(t, s); string(m.Data) != "2" {
			t.Fatalf("got %q after the QUIC move", m.Data)
		}
	}

	// A port that is taken refuses the reload; nothing changes.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	before := srv.Options()
	o = srv.Options()
	o.MaxPayload = 4096
	o.Listeners = []broker.Listener{{Transport: tcp.New(), Addr: taken.Addr().String()}, o.Listeners[1]}
	if err := srv.Reload(o); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("reload onto a taken port: %v", err)
	}
	if a := srv.Addrs(); a["tcp"].String() != hostPort(tcpPort) || a["quic"].String() != hostPort(quicPort2) || srv.Options().MaxPayload != before.MaxPayload {
		t.Fatalf("a refused reload changed things: %v, max_payload %d", a, srv.Options().MaxPayload)
	}
	connectTCP(t, srv).Publish("moved", []byte("3"))
	if m := recv(t, got); string(m.Data) != "3" {
		t.Fatalf("got %q after the refused reload", m.Data)
	}
}

// TestReloadBeforeStart: a reload before Start binds nothing itself; Start
// then listens where the reloaded options say, and Close returns.
func TestReloadBeforeStart(t *testing.T) {
	srv, err := broker.New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := srv.Options()
	o.Port = testutil.FreePort(t)
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got := srv.Addrs()["tcp"].String(); got != hostPort(o.Port) {
		t.Fatalf("listening on %s, want %s", got, hostPort(o.Port))
	}
}
