package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/node"
)

// msgKey identifies one Data.
type msgKey struct {
	from string
	seq  uint64
}

// collector reads a node's Messages and counts what it sees.
type collector struct {
	mu    sync.Mutex
	got   map[msgKey]int
	kinds map[node.Kind]int
	total int
	last  *node.Message
	done  chan struct{}
}

func collect(n *node.Node) *collector {
	c := &collector{got: make(map[msgKey]int), kinds: make(map[node.Kind]int), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for m := range n.Messages() {
			c.mu.Lock()
			c.got[msgKey{m.From, m.Seq}]++
			c.kinds[m.Kind]++
			c.total++
			c.last = m
			c.mu.Unlock()
		}
	}()
	return c
}

// counts returns distinct messages and duplicates seen so far.
func (c *collector) counts() (distinct, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got), c.total - len(c.got)
}

func (c *collector) has(from string, seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[msgKey{from, seq}] > 0
}

func TestDirectAndBroadcast(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	a := connectNode(t, testConfig("a", b))
	bn := connectNode(t, overQUIC(testConfig("b", b), b))
	ca, cb := collect(a), collect(bn)
	waitPeers(t, []*node.Node{a, bn})

	ctx := context.Background()
	seq, err := a.Direct(ctx, "b", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "direct delivered", func() bool { return cb.has("a", seq) })
	cb.mu.Lock()
	m := cb.last
	cb.mu.Unlock()
	if m.From != "a" || m.Kind != node.KindDirect || string(m.Payload) != "hello" {
		t.Fatalf("got %+v", m)
	}
	bseq, err := bn.Broadcast(ctx, []byte("all"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "broadcast delivered", func() bool { return ca.has("b", bseq) })
	eventually(t, 5*time.Second, "confirmed", func() bool {
		return a.Stats().Unconfirmed == 0 && bn.Stats().Unconfirmed == 0
	})
	if s := a.Stats(); s.DataSent != 1 || s.AckReceived != 1 || s.DataReceived != 1 || s.AckSent != 1 || s.Peers != 1 {
		t.Fatalf("a stats %+v", s)
	}
	if _, dups := ca.counts(); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	if _, err := a.Direct(ctx, "bad.id", nil); !errors.Is(err, node.ErrInvalidID) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestManualAck(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	a := connectNode(t, testConfig("a", b))
	cfg := testConfig("b", b)
	cfg.ManualAck = true
	bn := connectNode(t, cfg)
	waitPeers(t, []*node.Node{a, bn})
	seq, err := a.Direct(context.Background(), "b", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	m := <-bn.Messages()
	// Unacked, it is redelivered, and the receiver drops the copies
	// without acking them.
	eventually(t, 5*time.Second, "redelivery", func() bool { return a.Stats().Redelivered > 0 && bn.Stats().DuplicatesDropped > 0 })
	if a.Stats().Unconfirmed != 1 || bn.Stats().AckSent != 0 {
		t.Fatalf("acked without Ack: a %+v b %+v", a.Stats(), bn.Stats())
	}
	if m.Seq != seq {
		t.Fatalf("seq %d, want %d", m.Seq, seq)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "confirmed", func() bool { return a.Stats().Unconfirmed == 0 })
	select {
	case m := <-bn.Messages():
		t.Fatalf("duplicate handed over: %+v", m)
	default:
	}
}

func TestGoneReceiverBoundsUnconfirmed(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	cfg := testConfig("a", b)
	cfg.MaxUnconfirmed = 8
	cfg.AckTimeout = 50 * time.Millisecond
	cfg.MaxBackoff = 100 * time.Millisecond
	cfg.MaxRedeliveries = 2
	a := connectNode(t, cfg)

	ctx := context.Background()
	for i := 0; i < 8; i++ {
		if _, err := a.Direct(ctx, "nobody", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// Full: the next send blocks until its context ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := a.Direct(short, "nobody", []byte("x"))
	cancel()
	if !errors.Is(err, node.ErrTooManyUnconfirmed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a full set: %v", err)
	}
	if u := a.Stats().Unconfirmed; u != 8 {
		t.Fatalf("unconfirmed %d, want 8", u)
	}
	// Each fails after its redeliveries, reported with its seq, and frees
	// its slot: a blocked sender gets through (back-pressure, not an error).
	seen := map[uint64]bool{}
	for len(seen) < 8 {
		select {
		case e := <-a.Errors():
			if !errors.Is(e, node.ErrNotAcked) || e.To != "nobody" || e.Attempts != 3 {
				t.Fatalf("error %v", e)
			}
			seen[e.Seq] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d failures reported", len(seen))
		}
	}
	if _, err := a.Direct(ctx, "nobody", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Failed != 8 || s.Redelivered != 16 {
		t.Fatalf("stats %+v", s)
	}
	// Close gives up what is left: "nobody" never announced itself, so no
	// drain could see it acked (TestCloseFailsUndeliverablePromptly).
	sctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := a.Shutdown(sctx); !errors.Is(err, node.ErrAbandoned) {
		t.Fatalf("shutdown: %v", err)
	}
	var last *node.SendError
	for e := range a.Errors() {
		last = e
	}
	if last == nil || !errors.Is(last, node.ErrAbandoned) || last.Seq != 9 {
		t.Fatalf("abandon report %v", last)
	}
	if _, err := a.Direct(ctx, "nobody", nil); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestSlowReceiverBackPressure(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	cfg := testConfig("a", b)
	cfg.MaxUnconfirmed = 16
	a := connectNode(t, cfg)
	rcfg := testConfig("slow", b)
	rcfg.MessageBuffer = 1
	slow := connectNode(t, rcfg)
	waitPeers(t, []*node.Node{a, slow})

	// Nobody reads slow's Messages: after one buffered and one waiting,
	// nothing is acked and the sender stops at MaxUnconfirmed.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sent := 0
	for ; sent < 100; sent++ {
		if _, err := a.Direct(ctx, "slow", []byte("x")); err != nil {
			if !errors.Is(err, node.ErrTooManyUnconfirmed) {
				t.Fatal(err)
			}
			break
		}
	}
	if sent > 16+2 {
		t.Fatalf("sent %d with MaxUnconfirmed 16", sent)
	}
	if u := a.Stats().Unconfirmed; u > 16 {
		t.Fatalf("unconfirmed %d", u)
	}
	// Once the receiver reads, everything arrives once.
	c := collect(slow)
	eventually(t, 10*time.Second, "all delivered", func() bool {
		d, _ := c.counts()
		return d == sent && a.Stats().Unconfirmed == 0
	})
	if _, dups := c.counts(); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}

func TestMalformedIgnored(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	a := connectNode(t, testConfig("a", b))
	ca := collect(a)
	nc, err := nats.Connect(b.tcpURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hdr := func(kv ...string) nats.Header {
		h := nats.Header{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = []string{kv[i+1]}
		}
		return h
	}
	bad := []*nats.Msg{
		{Subject: "murmur.node.test.direct.a", Data: []byte("no headers")},
		{Subject: "murmur.node.test.direct.a", Header: hdr("Murmur-Data", "x s 0 direct")},
		{Subject: "murmur.node.test.direct.a", Header: hdr("Murmur-Data", "x s 1 gossip")},
		{Subject: "murmur.node.test.direct.a", Header: hdr("Murmur-Data", "x.y s 1 direct")},
		{Subject: "murmur.node.test.broadcast", Header: hdr("Murmur-Data", "x 1 broadcast")},
		{Subject: "murmur.node.test.broadcast", Header: hdr("Murmur-Data", "x s 5 broadcast 9")},
		{Subject: "murmur.node.test.ack.a", Header: hdr("Murmur-From", "x", "Murmur-Session", "s", "Murmur-Ack-Seq", "1-99999999999")},
		{Subject: "murmur.node.test.ack.a", Header: hdr("Murmur-From", "x", "Murmur-Session", "s", "Murmur-Ack-Seq", "7,,8")},
		{Subject: "murmur.node.test.ack.a", Data: []byte{0xff, 0}},
		{Subject: "murmur.node.test.presence", Header: hdr("Murmur-From", "x", "Murmur-Session", "s", "Murmur-Presence", "maybe")},
		{Subject: "murmur.node.test.presence", Data: []byte("hi")},
	}
	for _, m := range bad {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	// A well-formed Data from a plain client still works (interop).
	good := &nats.Msg{Subject: "murmur.node.test.direct.a", Data: []byte("interop"),
		Header: hdr("Murmur-Data", "plain s1 1 direct")}
	acks, _ := nc.SubscribeSync("murmur.node.test.ack.plain")
	nc.PublishMsg(good)
	nc.Flush()
	ack, err := acks.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Header.Get("Murmur-Ack-Seq") != "1" || ack.Header.Get("Murmur-From") != "a" || ack.Header.Get("Murmur-Session") != "s1" {
		t.Fatalf("ack headers %v", ack.Header)
	}
	eventually(t, 5*time.Second, "malformed counted", func() bool { return a.Stats().Malformed == uint64(len(bad)) })
	// The collector takes messages on its own goroutine: wait for it.
	eventually(t, 5*time.Second, "the interop message delivered", func() bool {
		d, _ := ca.counts()
		return d == 1 && ca.has("plain", 1)
	})
	// The node still works.
	if _, err := a.Direct(context.Background(), "a", []byte("self")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "self direct", func() bool { d, _ := ca.counts(); return d == 2 })
}

func TestPeersWatchAndLeave(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	a := connectNode(t, testConfig("a", b))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := a.Watch(ctx)
	cfg := testConfig("b", b)
	bn, err := node.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := func() node.PeerEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no peer event")
		}
		return node.PeerEvent{}
	}
	if ev := next(); ev.Left || ev.Peer.ID != "b" || ev.Peer.Session != bn.Session() {
		t.Fatalf("join event %+v", ev)
	}
	// A broadcast waits for b; b's graceful Close announces its leave, and
	// the broadcast stops waiting for it.
	if err := bn.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := next(); !ev.Left || ev.Peer.ID != "b" {
		t.Fatalf("leave event %+v", ev)
	}
	if p := a.Peers(); len(p) != 0 {
		t.Fatalf("peers after leave: %v", p)
	}
	cancel()
	for range events {
	}
}

func TestBroadcastStopsWaitingForVanishedPeer(t *testing.T) {
	b := startBroker(t, "solo", "", nil)
	cfg := testConfig("a", b)
	cfg.AckTimeout = 5 * time.Second // no redelivery during the test
	cfg.MaxBackoff = 5 * time.Second
	a := connectNode(t, cfg)
	gcfg := testConfig("ghost", b)
	gcfg.ManualAck = true // receives, never acks
	ghost := connectNode(t, gcfg)
	waitPeers(t, []*node.Node{a, ghost})
	if _, err := a.Broadcast(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	<-ghost.Messages()
	if a.Stats().Unconfirmed != 1 {
		t.Fatal("broadcast confirmed without the ghost's ack")
	}
	ghost.Close()
	eventually(t, 5*time.Second, "broadcast settled by the leave", func() bool { return a.Stats().Unconfirmed == 0 })
	if f := a.Stats().Failed; f != 0 {
		t.Fatalf("failed %d", f)
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []node.Config{
		{ID: "", Servers: []string{"nats://127.0.0.1:1"}},
		{ID: "a.b", Servers: []string{"nats://127.0.0.1:1"}},
		{ID: "a"},
		{ID: "a", Servers: []string{"x"}, Transport: "udp"},
		{ID: "a", Servers: []string{"x"}, MaxUnconfirmed: -1},
	} {
		if _, err := node.Connect(ctx, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		} else {
			t.Log(err)
		}
	}
	_ = fmt.Sprint
}
