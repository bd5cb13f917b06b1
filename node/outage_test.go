package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/node"
	"github.com/murmurmq/murmur/transport/tcp"
)

// startTCPBrokerAt starts a TCP-only broker on addr; it is closed at
// cleanup (Close is idempotent, so a test may close it sooner).
func startTCPBrokerAt(t *testing.T, addr string) *broker.Server {
	t.Helper()
	o := broker.DefaultOptions()
	o.Listeners = []broker.Listener{{Transport: tcp.New(), Addr: addr}}
	srv, err := broker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TestOutageDoesNotSpendGiveUpBudget: a Data whose time passes mostly
// while its sender has no broker is not given up for it. The sender's
// budget is one redelivery, then a 4 s wait; the broker goes away just
// after that redelivery, for longer than the whole budget, and comes back;
// the receiver then acks a second late (a loaded machine), well inside
// what was left of the wait when the broker went away. Before the clocks
// paused while disconnected, the reconnect left it one AckTimeout and the
// Data failed.
func TestOutageDoesNotSpendGiveUpBudget(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	b1 := startTCPBrokerAt(t, addr)
	cfg := func(id string) node.Config {
		return node.Config{
			ID: id, Namespace: "outage", Servers: []string{"nats://" + addr},
			PresenceInterval: 100 * time.Millisecond, MissedHeartbeats: 200,
			ReconnectWait: 20 * time.Millisecond,
		}
	}
	acfg := cfg("a")
	acfg.AckTimeout = 250 * time.Millisecond
	acfg.MaxRedeliveries = 1
	acfg.BackoffFactor = 16
	acfg.MaxBackoff = 4 * time.Second
	budget := acfg.AckTimeout + acfg.MaxBackoff // connected time before a Data fails
	bcfg := cfg("b")
	bcfg.ManualAck = true
	a, b := connectNode(t, acfg), connectNode(t, bcfg)
	waitPeers(t, []*node.Node{a, b})

	sent := time.Now()
	seq, err := a.Direct(context.Background(), "b", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	var m *node.Message
	select {
	case m = <-b.Messages():
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	if m.Seq != seq {
		t.Fatalf("got seq %d, want %d", m.Seq, seq)
	}
	// The one redelivery arrived (and was dropped as a duplicate): the Data
	// is now on its last wait.
	eventually(t, 10*time.Second, "first redelivery", func() bool { return b.Stats().DuplicatesDropped == 1 })

	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// The outage lasts longer than the whole budget: a fixed span is the
	// scenario here, not a wait for something to happen.
	<-time.After(budget + time.Second - time.Since(sent))
	startTCPBrokerAt(t, addr)
	up := time.Now()
	// Both are back, with their subscriptions, once each hears the other's
	// heartbeat through the new broker.
	eventually(t, 10*time.Second, "both nodes back", func() bool { return heardSince(a, "b", up) && heardSince(b, "a", up) })
	t.Logf("broker down for %v; budget %v", up.Sub(down).Round(time.Millisecond), budget)

	<-time.After(time.Second) // the slow receiver (4 AckTimeouts)
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "settled", func() bool { return a.Stats().Unconfirmed == 0 })
	select {
	case e := <-a.Errors():
		t.Fatalf("given up %v after the send, %v of it disconnected: %v", time.Since(sent).Round(time.Millisecond), up.Sub(down).Round(time.Millisecond), e)
	default:
	}
	if s := a.Stats(); s.Failed != 0 || s.AckReceived != 1 {
		t.Fatalf("stats %+v, want the Data acked", s)
	}
}

// heardSince reports whether n has heard peer's heartbeat after t.
func heardSince(n *node.Node, peer string, t time.Time) bool {
	for _, p := range n.Peers() {
		if p.ID == peer {
			return p.LastSeen.After(t)
		}
	}
	return false
}
