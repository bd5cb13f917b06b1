package quic_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
)

// startBroker runs a real broker whose only listener is QUIC, and returns it
// with a dialer pinned to its self-signed certificate.
func startBroker(t *testing.T) (*broker.Server, *quic.Dialer) {
	t.Helper()
	tr, err := quic.New(quic.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.Listeners = []broker.Listener{{Transport: tr, Addr: "127.0.0.1:0"}}
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	dc := quic.DefaultDialConfig()
	dc.Fingerprint = tr.Fingerprint()
	d, err := quic.NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, d
}

// connect is nats.go over QUIC: only SetCustomDialer differs from TCP.
func connect(t *testing.T, srv *broker.Server, d *quic.Dialer) *nats.Conn {
	t.Helper()
	url := "nats://" + srv.Addrs()["quic"].String()
	nc, err := nats.Connect(url, nats.SetCustomDialer(d), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestBrokerOverQUIC(t *testing.T) {
	srv, d := startBroker(t)
	sub := connect(t, srv, d)
	pub := connect(t, srv, d)

	t.Run("PubSub", func(t *testing.T) {
		s, err := sub.SubscribeSync("greet.*")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish("greet.joe", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		m, err := s.NextMsg(5 * time.Second)
		if err != nil || string(m.Data) != "hello" || m.Subject != "greet.joe" {
			t.Fatalf("got %v, %v", m, err)
		}
	})

	t.Run("RequestReply", func(t *testing.T) {
		s, err := sub.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("re: "), m.Data...)) })
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
		if err := sub.Flush(); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			msg := fmt.Sprintf("ping %d", i)
			r, err := pub.Request("svc.echo", []byte(msg), 5*time.Second)
			if err != nil || string(r.Data) != "re: "+msg {
				t.Fatalf("request %d: %v, %v", i, r, err)
			}
		}
	})

	t.Run("LargePayload", func(t *testing.T) {
		s, err := sub.SubscribeSync("big")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Flush(); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 1<<20-1024)
		for i := range payload {
			payload[i] = byte(i)
		}
		if err := pub.Publish("big", payload); err != nil {
			t.Fatal(err)
		}
		m, err := s.NextMsg(5 * time.Second)
		if err != nil || len(m.Data) != len(payload) || m.Data[12345] != payload[12345] {
			t.Fatalf("large payload: %v", err)
		}
	})
}

// TestBrokerPublishThenClose: a client that publishes and closes at once
// must not lose the tail, which a bare CONNECTION_CLOSE would discard.
func TestBrokerPublishThenClose(t *testing.T) {
	srv, d := startBroker(t)
	sub := connect(t, srv, d)
	s, err := sub.SubscribeSync("tail")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}

	const n = 2000
	url := "nats://" + srv.Addrs()["quic"].String()
	pub, err := nats.Connect(url, nats.SetCustomDialer(d), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := pub.Publish("tail", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	pub.Close()
	for i := range n {
		m, err := s.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Data)
		}
	}
}

// TestBrokerShutdownReachesClient: closing the broker ends the client's
// connection promptly instead of leaving it to the idle timeout.
func TestBrokerShutdownReachesClient(t *testing.T) {
	srv, d := startBroker(t)
	closed := make(chan struct{})
	url := "nats://" + srv.Addrs()["quic"].String()
	nc, err := nats.Connect(url, nats.SetCustomDialer(d), nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("client not told about the shutdown")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}

// TestMain removes the broker binary the process tests build.
func TestMain(m *testing.M) { testutil.Main(m) }

// TestFailoverPinnedAfterSIGKILL: two broker processes, each with the
// self-signed certificate it made at start-up; a client pins both
// fingerprints. When its broker is SIGKILLed (no CONNECTION_CLOSE, no
// goodbye) the client notices the dead path within about 3 s and
// reconnects to the other broker, which it accepts by the second pin.
func TestFailoverPinnedAfterSIGKILL(t *testing.T) {
	p0 := testutil.StartQUICProc(t, "q0")
	p1 := testutil.StartQUICProc(t, "q1")
	if p0.Fingerprint() == p1.Fingerprint() {
		t.Fatal("both brokers have the same certificate")
	}
	dc := quic.DefaultDialConfig()
	dc.Fingerprints = []string{p0.Fingerprint(), p1.Fingerprint()}
	d, err := quic.NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}

	disconnected := make(chan time.Time, 1)
	reconnected := make(chan time.Time, 1)
	nc, err := nats.Connect(p0.QUICURL()+","+p1.QUICURL(),
		nats.SetCustomDialer(d), nats.DontRandomize(), nats.IgnoreDiscoveredServers(),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			select {
			case disconnected <- time.Now():
			default:
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- time.Now():
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if u := nc.ConnectedUrl(); u != p0.QUICURL() {
		t.Fatalf("connected to %s, want the first broker %s", u, p0.QUICURL())
	}
	s, err := nc.SubscribeSync("after")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	if err := p0.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The client goes on publishing, as an application would, and counts
	// itself connected until the dead path is noticed.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(30 * time.Second)
	var at time.Time
	for at.IsZero() {
		select {
		case at = <-reconnected:
		case <-tick.C:
			_ = nc.Publish("void", []byte("x"))
		case <-giveUp:
			t.Fatal("no reconnect 30 s after the kill")
		}
	}
	var down time.Time
	select {
	case down = <-disconnected:
	default:
		t.Fatal("reconnected without a disconnect")
	}
	noticed, failover := down.Sub(killed), at.Sub(killed)
	t.Logf("SIGKILL noticed after %v, reconnected to the second broker after %v",
		noticed.Round(time.Millisecond), failover.Round(time.Millisecond))
	if u := nc.ConnectedUrl(); u != p1.QUICURL() {
		t.Fatalf("reconnected to %s, want %s", u, p1.QUICURL())
	}
	// Generous against the 3 s target, far below the 30 s of the old
	// defaults: this is about which timeout applies, not about speed.
	if failover > 10*time.Second {
		t.Errorf("failover took %v, want about 3 s", failover)
	}
	// The subscription moved with the client.
	if err := nc.Publish("after", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := s.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("after failover: %v, %v", m, err)
	}
}
