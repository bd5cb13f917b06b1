package broker_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// A leaf attached to one broker of a hub cluster reaches subscribers on
// every broker of it and back, one hop inside the cluster, exactly once;
// a queue group with members only on the far broker and the leaf gets
// each message once.
func TestLeafHubCluster(t *testing.T) {
	hubs := startMeshWith(t, 2, func(o *broker.Options) {
		o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	})
	leaf := startLeafOf(t, leafURL(hubs[0]), nil)
	waitLeafs(t, hubs[0], 1)
	far, lc := connectTCP(t, hubs[1]), connectTCP(t, leaf)

	fs, _ := far.SubscribeSync("far.>")
	far.Flush()
	ls, _ := lc.SubscribeSync("edge.>")
	lc.Flush()
	ourInterest(t, leaf)("the far broker's interest reaches the leaf", []string{"far.>"}, nil)
	waitInterest(t, hubs[1:], "edge.x", 1)

	lc.Publish("far.1", []byte("up"))
	if m := leafRecv(t, fs); string(m.Data) != "up" {
		t.Fatalf("got %q", m.Data)
	}
	far.Publish("edge.x", []byte("down"))
	if m := leafRecv(t, ls); string(m.Data) != "down" {
		t.Fatalf("got %q", m.Data)
	}
	if r, err := far.Request("none.here", nil, time.Second); err == nil {
		t.Fatalf("reply from nowhere: %v", r)
	}
	lc.Subscribe("svc.edge", func(m *nats.Msg) { m.Respond([]byte("from the edge")) })
	lc.Flush()
	waitInterest(t, hubs[1:], "svc.edge", 1)
	if r, err := far.Request("svc.edge", nil, 5*time.Second); err != nil || string(r.Data) != "from the edge" {
		t.Fatalf("request across cluster and leaf: %v %v", r, err)
	}
	leafNoMsg(t, fs)
	leafNoMsg(t, ls)

	// Queue members on the far broker and on the leaf, published from the
	// hub broker in between: exactly once in total.
	fq, _ := far.QueueSubscribeSync("jobs", "w")
	far.Flush()
	lq, _ := lc.QueueSubscribeSync("jobs", "w")
	lc.Flush()
	waitInterest(t, hubs[:1], "jobs", 2)
	hc := connectTCP(t, hubs[0])
	const n = 40
	for i := range n {
		hc.Publish("jobs", []byte(fmt.Sprint(i)))
	}
	hc.Flush()
	got := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for total := 0; total < n; {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d: %v", total, n, got)
		}
		for _, sub := range []*nats.Subscription{fq, lq} {
			if m, err := sub.NextMsg(10 * time.Millisecond); err == nil {
				got[string(m.Data)]++
				total++
			}
		}
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("message %s delivered %d times", k, c)
		}
	}
	leafNoMsg(t, fq)
	leafNoMsg(t, lq)
}

// The remote's account binds one local account to the hub account the
// leaf's credentials log into; other accounts of either side see nothing.
func TestLeafAccountBinding(t *testing.T) {
	ho := testOptions()
	ho.Auth = accountsAuth()
	ho.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0", User: "leaf", Password: "pw", Account: "B"}
	hub := startServer(t, ho, nil)
	lo := testOptions()
	lo.Auth = accountsAuth()
	lo.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{
		URLs: []string{"nats://leaf:pw@" + hub.LeafAddr().String()}, Account: "A",
	}}}
	leaf := startServer(t, lo, nil)
	waitLeafs(t, hub, 1)
	waitLeafs(t, leaf, 1)
	if ls := hub.Leafs(false); ls[0].Account != "B" || ls[0].Remote != "A" {
		t.Fatalf("hub side: %+v", ls[0])
	}
	if ls := leaf.Leafs(false); ls[0].Account != "A" || ls[0].Remote != "B" || !ls[0].ToHub {
		t.Fatalf("leaf side: %+v", ls[0])
	}
	hubB, hubA := login(t, hub, "bob", "b"), login(t, hub, "alice", "a")
	leafA, leafB := login(t, leaf, "alice", "a"), login(t, leaf, "bob", "b")
	inB, _ := hubB.SubscribeSync("x")
	inA, _ := hubA.SubscribeSync("x")
	hubB.Flush()
	hubA.Flush()
	ourInterest(t, leaf)("hub B's interest on the leaf", []string{"x"}, nil)
	leafB.Publish("x", []byte("from leaf B"))
	leafA.Publish("x", []byte("from leaf A"))
	leafA.Flush()
	leafB.Flush()
	if m := leafRecv(t, inB); string(m.Data) != "from leaf A" {
		t.Fatalf("hub B got %q", m.Data)
	}
	leafNoMsg(t, inB)
	leafNoMsg(t, inA)
	// A wrong password is refused; the leaf keeps redialing, so the hub
	// counts the failures.
	bad := testOptions()
	bad.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{"nats://leaf:nope@" + hub.LeafAddr().String()}}}}
	startServer(t, bad, nil)
	eventually(t, 5*time.Second, "refused logins counted", func() bool { return hub.AuthFailures() >= 2 })
	if hub.NumLeafs() != 1 {
		t.Fatalf("%d leaf connections, want 1", hub.NumLeafs())
	}
}

// Leaf connections announce themselves in the system account.
func TestLeafEvents(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{System: &broker.User{Name: "sys", Password: "s"}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	sys := login(t, hub, "sys", "s")
	events, _ := sys.SubscribeSync("$SYS.ACCOUNT.*.LEAFNODE.>")
	sys.Flush()
	leaf := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, hub, 1)
	var ev broker.LeafNodeEvent
	m := leafRecv(t, events)
	if json.Unmarshal(m.Data, &ev) != nil || m.Subject != "$SYS.ACCOUNT.$G.LEAFNODE.CONNECT" || ev.Account != "$G" ||
		ev.Server.ID != hub.ID() || ev.Peer != leaf.Name() || ev.Spoke {
		t.Fatalf("connect event on %s: %s", m.Subject, m.Data)
	}
	leaf.Close()
	m = leafRecv(t, events)
	if json.Unmarshal(m.Data, &ev) != nil || m.Subject != "$SYS.ACCOUNT.$G.LEAFNODE.DISCONNECT" || ev.Reason == "" {
		t.Fatalf("disconnect event on %s: %s", m.Subject, m.Data)
	}
}

// A leaf configured with one broker of a hub cluster learns the others'
// leaf URLs (also of a broker that joins later, from an INFO then) and
// fails over to one when its broker goes.
func TestLeafHubFailover(t *testing.T) {
	var hubs []*broker.Server
	var first *broker.Server
	for i := range 2 {
		o := testOptions()
		clusterOptions(&o, i)
		o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
		hubs = append(hubs, startServer(t, o, nil))
		if i == 0 {
			first = startLeafOf(t, leafURL(hubs[0]), nil)
			waitLeafs(t, hubs[0], 1)
		}
	}
	leaf := startLeafOf(t, leafURL(hubs[0]), nil)
	meshUp(t, hubs)
	waitLeafs(t, hubs[0], 2)
	// Both leaves know hubs[1]'s leaf URL before hubs[0] goes: the first
	// from an INFO after the route came up, the second from that or its
	// first INFO.
	second := hubs[1].LeafAddr().String()
	for _, l := range []*broker.Server{first, leaf} {
		eventually(t, 5*time.Second, "the leaf learned the other hub's URL", func() bool {
			return slices.Contains(l.LearnedLeafURLs(), second)
		})
	}
	lc := connectTCP(t, leaf)
	s, _ := lc.SubscribeSync("after.failover")
	lc.Flush()
	hubs[0].Close()
	// Both leaves: the first learned hubs[1] from an INFO after the route
	// came up, the second from its first INFO.
	waitLeafs(t, hubs[1], 2)
	ourInterest(t, hubs[1])("the surviving hub has the leaf's interest", []string{"after.failover"}, nil)
	connectTCP(t, hubs[1]).Publish("after.failover", []byte("ok"))
	if m := leafRecv(t, s); string(m.Data) != "ok" {
		t.Fatalf("got %q", m.Data)
	}
}

// A leaf bound to an account that imports a service and a stream on the
// hub: a request from the leaf reaches the exporting account's responder
// and the answer comes back; the imported stream reaches the leaf.
func TestLeafImports(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "SVC", Users: []broker.User{{Name: "svc", Password: "s"}}, Exports: []broker.Export{{Service: "time.now"}, {Stream: "news.>"}}},
		{Name: "EDGE", Users: []broker.User{{Name: "edge", Password: "e"}}, Imports: []broker.Import{{Account: "SVC", Service: "time.now"}, {Account: "SVC", Stream: "news.>"}}},
	}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0", User: "leaf", Password: "l", Account: "EDGE"}
	hub := startServer(t, o, nil)
	leaf := startLeafOf(t, "nats://leaf:l@"+hub.LeafAddr().String(), nil)
	waitLeafs(t, leaf, 1)
	svc := login(t, hub, "svc", "s")
	svc.Subscribe("time.now", func(m *nats.Msg) { m.Respond([]byte("noon")) })
	svc.Flush()
	lc := connectTCP(t, leaf)
	ourInterest(t, leaf)("the import's interest reaches the leaf", []string{"time.now"}, nil)
	if r, err := lc.Request("time.now", nil, 5*time.Second); err != nil || string(r.Data) != "noon" {
		t.Fatalf("request from the leaf to an imported service: %v %v", r, err)
	}
	news, _ := lc.SubscribeSync("news.>")
	lc.Flush()
	ourInterest(t, hub)("the hub has the leaf's news.>", []string{"news.>"}, nil)
	svc.Publish("news.today", []byte("sunny"))
	if m := leafRecv(t, news); string(m.Data) != "sunny" {
		t.Fatalf("got %q", m.Data)
	}
}

// A leaf with remotes to two brokers of one hub cluster, in one account:
// the second connection is a loop (its loop detection subject comes back
// over the cluster) and is closed, so each message arrives once.
func TestLeafTwoRemotesOneCluster(t *testing.T) {
	hubs := startMeshWith(t, 2, func(o *broker.Options) {
		o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	})
	o := testOptions()
	o.LeafNode = &broker.LeafNodeOptions{Reconnect: 100 * time.Millisecond, Remotes: []broker.RemoteLeaf{
		{URLs: []string{leafURL(hubs[0])}}, {URLs: []string{leafURL(hubs[1])}},
	}}
	leaf := startServer(t, o, nil)
	lc := connectTCP(t, leaf)
	s, _ := lc.SubscribeSync("once")
	lc.Flush()
	// Both remotes connected once (two leaf connections and the client
	// counted), one of them is left.
	eventually(t, 10*time.Second, "one leaf connection into the cluster", func() bool {
		return leaf.Stats().TotalConnections >= 3 && hubs[0].NumLeafs()+hubs[1].NumLeafs() == 1 && leaf.NumLeafs() == 1
	})
	waitInterest(t, hubs, "once", 1)
	for _, h := range hubs {
		connectTCP(t, h).Publish("once", []byte(h.Name()))
	}
	got := map[string]int{}
	for range 2 {
		got[string(leafRecv(t, s).Data)]++
	}
	leafNoMsg(t, s)
	if got["b0"] != 1 || got["b1"] != 1 {
		t.Fatalf("got %v", got)
	}
}
