package quic_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
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
