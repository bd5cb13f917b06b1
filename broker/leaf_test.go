package broker_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// startHub starts a broker with a leaf node listener on a free port.
func startHub(t *testing.T, set func(*broker.LeafNodeOptions)) *broker.Server {
	t.Helper()
	o := testOptions()
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	if set != nil {
		set(o.LeafNode)
	}
	return startServer(t, o, nil)
}

// startLeafOf starts a broker that dials hub (a leaf node URL) as a leaf.
func startLeafOf(t *testing.T, url string, set func(*broker.RemoteLeaf)) *broker.Server {
	t.Helper()
	o := testOptions()
	r := broker.RemoteLeaf{URLs: []string{url}}
	if set != nil {
		set(&r)
	}
	o.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{r}, Reconnect: 200 * time.Millisecond}
	return startServer(t, o, nil)
}

func leafURL(s *broker.Server) string { return "nats://" + s.LeafAddr().String() }

// waitLeafs waits until s has n leaf node connections.
func waitLeafs(t *testing.T, s *broker.Server, n int) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d leaf connections", n), func() bool { return s.NumLeafs() == n })
}

// waitLeafSubs waits until the leaf connections of s together hold n
// entries of the peer's interest (LS+ received).
func waitLeafSubs(t *testing.T, s *broker.Server, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := 0
		var subs []string
		for _, l := range s.Leafs(true) {
			got += l.NumSubs
			subs = append(subs, l.Subs...)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %d entries, want %d: %q", what, got, n, subs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leafRecv(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("%s: %v", sub.Subject, err)
	}
	return m
}

func leafNoMsg(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("%s: unexpected message on %s: %q", sub.Subject, m.Subject, m.Data)
	}
}

func TestLeafPubSubBothWays(t *testing.T) {
	hub := startHub(t, nil)
	leaf := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, hub, 1)
	waitLeafs(t, leaf, 1)
	hc, lc := connectTCP(t, hub), connectTCP(t, leaf)

	// Interest on the leaf, message on the hub.
	ls, _ := lc.SubscribeSync("to.leaf.*")
	lc.Flush()
	waitLeafSubs(t, hub, "hub sees the leaf's interest", 2) // to.leaf.* and the leaf's $LDS
	hc.Publish("to.leaf.1", []byte("a"))
	if m := leafRecv(t, ls); string(m.Data) != "a" || m.Subject != "to.leaf.1" {
		t.Fatalf("got %q on %s", m.Data, m.Subject)
	}
	// Interest on the hub, message on the leaf, with headers.
	hs, _ := hc.SubscribeSync("to.hub.>")
	hc.Flush()
	waitLeafSubs(t, leaf, "leaf sees the hub's interest", 2)
	m := nats.NewMsg("to.hub.x.y")
	m.Header.Set("K", "v")
	m.Data = []byte("b")
	lc.PublishMsg(m)
	got := leafRecv(t, hs)
	if string(got.Data) != "b" || got.Header.Get("K") != "v" {
		t.Fatalf("got %q header %v", got.Data, got.Header)
	}
	// Unsubscribe stops delivery.
	ls.Unsubscribe()
	lc.Flush()
	waitLeafSubs(t, hub, "hub drops the leaf's interest", 1)
	ls2, _ := lc.SubscribeSync("other")
	lc.Flush()
	waitLeafSubs(t, hub, "hub sees other", 2)
	hc.Publish("to.leaf.1", []byte("gone"))
	hc.Publish("other", []byte("c"))
	if m := leafRecv(t, ls2); string(m.Data) != "c" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestLeafRequestReplyAndNoResponders(t *testing.T) {
	hub := startHub(t, nil)
	leaf := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, leaf, 1)
	hc, lc := connectTCP(t, hub), connectTCP(t, leaf)
	hc.Subscribe("svc.hub", func(m *nats.Msg) { m.Respond(append([]byte("hub:"), m.Data...)) })
	lc.Subscribe("svc.leaf", func(m *nats.Msg) { m.Respond(append([]byte("leaf:"), m.Data...)) })
	hc.Flush()
	lc.Flush()
	waitLeafSubs(t, leaf, "leaf sees svc.hub", 2)
	waitLeafSubs(t, hub, "hub sees svc.leaf", 2)
	if r, err := lc.Request("svc.hub", []byte("1"), 5*time.Second); err != nil || string(r.Data) != "hub:1" {
		t.Fatalf("leaf -> hub: %v %v", r, err)
	}
	if r, err := hc.Request("svc.leaf", []byte("2"), 5*time.Second); err != nil || string(r.Data) != "leaf:2" {
		t.Fatalf("hub -> leaf: %v %v", r, err)
	}
	if _, err := lc.Request("svc.none", nil, 5*time.Second); err != nats.ErrNoResponders {
		t.Fatalf("no responders: %v", err)
	}
}

// Queue groups prefer a local member and cross the leaf only when none
// is local; each message reaches exactly one member.
func TestLeafQueueLocality(t *testing.T) {
	hub := startHub(t, nil)
	leaf := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, leaf, 1)
	hc, lc := connectTCP(t, hub), connectTCP(t, leaf)
	hq, _ := hc.QueueSubscribeSync("work", "q")
	lq, _ := lc.QueueSubscribeSync("work", "q")
	hc.Flush()
	lc.Flush()
	waitLeafSubs(t, hub, "hub sees the leaf's member", 2)
	waitLeafSubs(t, leaf, "leaf sees the hub's member", 2)
	for i := range 20 {
		hc.Publish("work", []byte(fmt.Sprint("h", i)))
		lc.Publish("work", []byte(fmt.Sprint("l", i)))
	}
	hc.Flush()
	lc.Flush()
	for i := range 20 {
		if m := leafRecv(t, hq); string(m.Data) != fmt.Sprint("h", i) {
			t.Fatalf("hub member got %q", m.Data)
		}
		if m := leafRecv(t, lq); string(m.Data) != fmt.Sprint("l", i) {
			t.Fatalf("leaf member got %q", m.Data)
		}
	}
	leafNoMsg(t, hq)
	leafNoMsg(t, lq)
	// Without a local member, the group spills across.
	hq.Unsubscribe()
	hc.Flush()
	waitLeafSubs(t, leaf, "leaf drops the hub's member", 1)
	hc.Publish("work", []byte("x"))
	if m := leafRecv(t, lq); string(m.Data) != "x" {
		t.Fatalf("got %q", m.Data)
	}
}

// Two leaves on one hub: each message once to every subscriber, wherever
// it is published, and no loop.
func TestLeafTwoLeavesNoDuplicates(t *testing.T) {
	hub := startHub(t, nil)
	a := startLeafOf(t, leafURL(hub), nil)
	b := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, hub, 2)
	hc, ac, bc := connectTCP(t, hub), connectTCP(t, a), connectTCP(t, b)
	var subs []*nats.Subscription
	for _, nc := range []*nats.Conn{hc, ac, bc} {
		s, _ := nc.SubscribeSync("all.>")
		nc.Flush()
		subs = append(subs, s)
	}
	// Each leaf sees the hub's, the other leaf's (one entry: all.>) and
	// the loop detection subjects of the hub and the other leaf.
	waitLeafSubs(t, a, "a sees all interest", 3)
	waitLeafSubs(t, b, "b sees all interest", 3)
	waitLeafSubs(t, hub, "hub sees both leaves", 4)
	for i, nc := range []*nats.Conn{hc, ac, bc} {
		nc.Publish(fmt.Sprint("all.", i), []byte{byte('0' + i)})
		nc.Flush()
	}
	for _, s := range subs {
		seen := map[string]bool{}
		for range 3 {
			seen[string(leafRecv(t, s).Data)] = true
		}
		if len(seen) != 3 {
			t.Fatalf("got %v", seen)
		}
		leafNoMsg(t, s)
	}
}

func TestLeafReconnectsAfterHubRestart(t *testing.T) {
	o := testOptions()
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	addr := hub.LeafAddr().String()
	leaf := startLeafOf(t, "nats://"+addr, nil)
	waitLeafs(t, leaf, 1)
	lc := connectTCP(t, leaf)
	ls, _ := lc.SubscribeSync("after")
	lc.Flush()
	hub.Close()
	waitLeafs(t, leaf, 0)
	o.LeafNode.Addr = addr
	hub2 := startServer(t, o, nil)
	waitLeafs(t, hub2, 1)
	waitLeafSubs(t, hub2, "the restarted hub learns the leaf's interest again", 2)
	hc := connectTCP(t, hub2)
	hc.Publish("after", []byte("back"))
	if m := leafRecv(t, ls); string(m.Data) != "back" {
		t.Fatalf("got %q", m.Data)
	}
}

// A reload may not change the leafnodes block; an unchanged one reloads.
func TestLeafReloadRefused(t *testing.T) {
	hub := startHub(t, nil)
	o := hub.Options()
	if err := hub.Reload(o); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0", User: "x", Password: "y"}
	if err := hub.Reload(o); err == nil || err.Error() != "leafnodes: changes need a restart" {
		t.Fatalf("changed: %v", err)
	}
}

// Two brokers that are each other's hub form a loop: it is detected by
// the loop detection subjects, and one direction is closed (its dialer
// waits 30 s before it tries again).
func TestLeafLoopDetected(t *testing.T) {
	pa, pb := testutil.FreePort(t), testutil.FreePort(t)
	start := func(listen, remote int) (*broker.Server, *nats.Subscription) {
		o := testOptions()
		o.Auth = &broker.AuthOptions{System: &broker.User{Name: "sys", Password: "s"}}
		o.LeafNode = &broker.LeafNodeOptions{Addr: fmt.Sprintf("127.0.0.1:%d", listen), Reconnect: 100 * time.Millisecond,
			Remotes: []broker.RemoteLeaf{{URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", remote)}}}}
		s := startServer(t, o, nil)
		events, _ := login(t, s, "sys", "s").SubscribeSync("$SYS.ACCOUNT.$G.LEAFNODE.DISCONNECT")
		return s, events
	}
	a, ea := start(pa, pb)
	b, eb := start(pb, pa)
	var ev broker.LeafNodeEvent
	eventually(t, 10*time.Second, "a connection closed for the loop", func() bool {
		for _, e := range []*nats.Subscription{ea, eb} {
			if m, err := e.NextMsg(10 * time.Millisecond); err == nil && json.Unmarshal(m.Data, &ev) == nil && ev.Reason == "Protocol Violation" {
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "one connection left", func() bool { return a.NumLeafs() == 1 && b.NumLeafs() == 1 })
	if la, lb := a.Leafs(false), b.Leafs(false); la[0].ToHub == lb[0].ToHub {
		t.Fatalf("a: %+v, b: %+v", la[0], lb[0])
	}
}
