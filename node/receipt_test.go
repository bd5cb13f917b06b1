package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/murmurmq/murmur/node"
)

// giveUpFast makes cfg give up an unacked Data after about 250 ms.
func giveUpFast(cfg node.Config) node.Config {
	cfg.AckTimeout = 50 * time.Millisecond
	cfg.MaxBackoff = 100 * time.Millisecond
	cfg.MaxRedeliveries = 2
	return cfg
}

// noErrorReport fails if n reported a failure on Errors.
func noErrorReport(t *testing.T, n *node.Node) {
	t.Helper()
	select {
	case e := <-n.Errors():
		t.Fatalf("reported on Errors: %v", e)
	default:
	}
}

// TestDirectWait: DirectWait and BroadcastWait return nil once acked; a
// Data nobody acks comes back as its *SendError after the redeliveries, on
// the receipt only; a wait whose ctx ends first leaves the Data tracked.
func TestDirectWait(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	a := connectNode(t, giveUpFast(testConfig("a", b)))
	bn := connectNode(t, testConfig("b", b))
	gcfg := testConfig("ghost", b)
	gcfg.ManualAck = true // receives, never acks
	ghost := connectNode(t, gcfg)
	cb := collect(bn)
	waitPeers(t, []*node.Node{a, bn, ghost})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	seq, err := a.DirectWait(ctx, "b", []byte("hi"))
	if err != nil {
		t.Fatalf("DirectWait to a live peer: %v", err)
	}
	// Acked means handed over: it is b's already (the collector reads it
	// on its own goroutine).
	eventually(t, 5*time.Second, "delivered", func() bool { return cb.has("a", seq) })
	if u := a.Stats().Unconfirmed; u != 0 {
		t.Fatalf("unconfirmed %d after DirectWait returned", u)
	}

	start := time.Now()
	seq, err = a.DirectWait(ctx, "ghost", []byte("never acked"))
	var se *node.SendError
	if !errors.As(err, &se) || !errors.Is(err, node.ErrNotAcked) || se.Seq != seq || se.To != "ghost" || se.Attempts != 3 {
		t.Fatalf("DirectWait to a peer that never acks: seq %d, %v", seq, err)
	}
	t.Logf("given up after %v: %v", time.Since(start).Round(time.Millisecond), err)
	noErrorReport(t, a)

	// The broadcast waits for ghost too, which never acks.
	if _, err := a.BroadcastWait(ctx, []byte("all")); !errors.Is(err, node.ErrNotAcked) {
		t.Fatalf("BroadcastWait with a peer that never acks: %v", err)
	}
	ghost.Close()
	eventually(t, 5*time.Second, "ghost gone", func() bool { return len(a.Peers()) == 1 })
	if _, err := a.BroadcastWait(ctx, []byte("all")); err != nil {
		t.Fatalf("BroadcastWait acked by every live peer: %v", err)
	}

	// A receipt follows a Data past a wait that ended first.
	slow := testConfig("a2", b)
	slow.AckTimeout = 5 * time.Second // no redelivery, no give-up in the test
	slow.MaxBackoff = 5 * time.Second
	a2 := connectNode(t, slow)
	rcfg := testConfig("manual", b)
	rcfg.ManualAck = true
	manual := connectNode(t, rcfg)
	waitPeers(t, []*node.Node{a, bn, a2, manual})
	r, err := a2.DirectReceipt(ctx, "manual", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := r.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its ctx: %v", err)
	}
	select {
	case <-r.Done():
		t.Fatal("settled without an ack")
	default:
	}
	m := <-manual.Messages()
	if m.Seq != r.Seq {
		t.Fatalf("got seq %d, receipt says %d", m.Seq, r.Seq)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	case <-ctx.Done():
		t.Fatal("receipt not settled by the ack")
	}
	if err := r.Err(); err != nil {
		t.Fatalf("Err after the ack: %v", err)
	}
}

// TestRequirePeer: with RequirePeer a Direct to an ID no peer announced,
// or a Broadcast with no peer, fails at once with ErrNoPeer, sends nothing
// and does not wait for a slot even when the unconfirmed set is full;
// live peers and this node itself are reachable.
func TestRequirePeer(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	cfg := testConfig("a", b)
	cfg.MaxUnconfirmed = 1
	cfg.AckTimeout = 5 * time.Second
	cfg.MaxBackoff = 5 * time.Second
	a := connectNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := a.Direct(ctx, "nobody", []byte("x"), node.RequirePeer()); !errors.Is(err, node.ErrNoPeer) {
		t.Fatalf("Direct to an unknown ID: %v", err)
	} else {
		t.Log(err)
	}
	if _, err := a.BroadcastWait(ctx, []byte("x"), node.RequirePeer()); !errors.Is(err, node.ErrNoPeer) {
		t.Fatalf("Broadcast with no peer: %v", err)
	}
	if s := a.Stats(); s.DataSent != 0 || s.Unconfirmed != 0 {
		t.Fatalf("refused sends were sent: %+v", s)
	}
	// Without the option the SDK sends into the void (the one slot fills).
	if _, err := a.Direct(ctx, "nobody", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The set is full: a send that waited for a slot would fail with
	// ErrTooManyUnconfirmed on this ended ctx; the peer check comes first.
	ended, cancelEnded := context.WithCancel(ctx)
	cancelEnded()
	if _, err := a.Direct(ended, "nobody", []byte("x")); !errors.Is(err, node.ErrTooManyUnconfirmed) {
		t.Fatalf("Direct with the set full and ctx ended: %v", err)
	}
	if _, err := a.Direct(ended, "nobody", []byte("x"), node.RequirePeer()); !errors.Is(err, node.ErrNoPeer) {
		t.Fatalf("Direct to an unknown ID with the set full: %v", err)
	}

	rcfg := testConfig("r", b)
	rcfg.RequirePeer = true
	r := connectNode(t, rcfg)
	cr := collect(r)
	waitPeers(t, []*node.Node{a, r})
	if _, err := r.Broadcast(ctx, []byte("x")); err != nil {
		t.Fatalf("Config.RequirePeer broadcast with a peer: %v", err)
	}
	if _, err := r.DirectWait(ctx, "a", []byte("x")); err != nil {
		t.Fatalf("Config.RequirePeer direct to a live peer: %v", err)
	}
	seq, err := r.DirectWait(ctx, "r", []byte("self"))
	if err != nil {
		t.Fatalf("Config.RequirePeer direct to itself: %v", err)
	}
	eventually(t, 5*time.Second, "self direct delivered", func() bool { return cr.has("r", seq) })
	if _, err := r.Direct(ctx, "nobody", nil); !errors.Is(err, node.ErrNoPeer) {
		t.Fatalf("Config.RequirePeer direct to an unknown ID: %v", err)
	}
}

// TestCloseFailsUndeliverablePromptly: Close does not wait out its drain
// for directs that can never be acked: to an ID never heard, or to a peer
// that leaves while Close drains. They are given up at once with
// ErrAbandoned and ErrNoPeer, on Errors or on their receipt, and Close
// returns long before DrainTimeout.
func TestCloseFailsUndeliverablePromptly(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	cfg := testConfig("a", b)
	cfg.AckTimeout = 30 * time.Second // no redelivery, no give-up in the test
	cfg.MaxBackoff = 30 * time.Second
	cfg.DrainTimeout = time.Minute
	a := connectNode(t, cfg)
	ccfg := testConfig("c", b)
	ccfg.ManualAck = true // receives, never acks
	c := connectNode(t, ccfg)
	waitPeers(t, []*node.Node{a, c})
	ctx := context.Background()

	if _, err := a.Direct(ctx, "nobody", []byte("void")); err != nil {
		t.Fatal(err)
	}
	r, err := a.DirectReceipt(ctx, "nobody", []byte("void"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := a.DirectReceipt(ctx, "c", []byte("to a peer that will leave"))
	if err != nil {
		t.Fatal(err)
	}
	<-c.Messages()

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	// The never-heard target is given up as soon as Close starts; the
	// live one is waited for.
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("receipt to an unknown ID not settled by Close")
	}
	if err := r.Err(); !errors.Is(err, node.ErrNoPeer) || !errors.Is(err, node.ErrAbandoned) {
		t.Fatalf("receipt error %v", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned while a live peer's direct was unconfirmed: %v", err)
	case <-rc.Done():
		t.Fatalf("live peer's direct settled early: %v", rc.Err())
	default:
	}
	// c leaves during the drain: its direct cannot be acked any more.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var closeErr error
	select {
	case closeErr = <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still draining a direct to a peer that left")
	}
	took := time.Since(start)
	if !errors.Is(closeErr, node.ErrAbandoned) {
		t.Fatalf("Close: %v", closeErr)
	}
	if err := rc.Err(); !errors.Is(err, node.ErrNoPeer) {
		t.Fatalf("direct to the peer that left: %v", err)
	}
	var reports []*node.SendError
	for e := range a.Errors() {
		reports = append(reports, e)
	}
	if len(reports) != 1 || reports[0].To != "nobody" || !errors.Is(reports[0], node.ErrNoPeer) {
		t.Fatalf("Errors reports %v, want the one plain Direct to nobody", reports)
	}
	t.Logf("Close took %v (DrainTimeout %v): %v", took.Round(time.Millisecond), cfg.DrainTimeout, closeErr)
}
