package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/fault"
	"github.com/murmurmq/murmur/transport/tcp"
)

// Route failures with gossip up: the route transports are fault.Transports,
// so a route can be cut while the brokers' gossip keeps flowing.

// quickRoutePings makes a dead route show within about a second: PINGs
// every 200 ms, closed after two unanswered, and a write blocked on the
// peer fails after 1 s.
func quickRoutePings(o *broker.Options) {
	o.PingInterval = 200 * time.Millisecond
	o.PingMax = 2
	o.WriteDeadline = time.Second
}

// faultyCluster starts count brokers whose routes go through fault
// transports, and waits for the full mesh.
func faultyCluster(t *testing.T, prefix string, count int) ([]*node, []*fault.Transport) {
	t.Helper()
	nodes := make([]*node, count)
	fts := make([]*fault.Transport, count)
	for i := range nodes {
		fts[i] = fault.New(tcp.New())
		// Registered before the node's own cleanup, so it runs after the
		// broker closed: it lets the closes a cut still holds go through.
		t.Cleanup(fts[i].Heal)
		o := nodeOpts{routes: fts[i], broker: quickRoutePings}
		if i > 0 {
			o.seeds = []string{nodes[0].gossipAddr()}
		}
		nodes[i] = startNode(t, fmt.Sprintf("%s%d", prefix, i), o)
	}
	waitMesh(t, nodes, 10*time.Second)
	return nodes, fts
}

// routeRID is the client id of a's route to b (0: none).
func routeRID(a, b *node) uint64 {
	for _, r := range a.srv.Routes() {
		if r.RemoteID == b.srv.ID() {
			return r.RID
		}
	}
	return 0
}

// checkTraffic shows a message published on from reaches a subscriber on
// to.
func checkTraffic(t *testing.T, from, to *node, subject string) {
	t.Helper()
	sub := connect(t, to.srv)
	s, _ := sub.SubscribeSync(subject)
	sub.Flush()
	waitInterest(t, []*node{from}, subject, 1)
	connect(t, from.srv).Publish(subject, []byte("x"))
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("%s: %s to %s: %v", subject, from.srv.Name(), to.srv.Name(), err)
	}
}

// TestRouteCutWhileGossipUp blackholes the route between two of three
// brokers (both directions, every connection between them, redials
// included) while gossip stays up: both ends notice the dead route and
// drop it, the third broker's routes are untouched, the cluster keeps
// redialing without getting through, and once the cut heals the route
// comes back as a new connection.
func TestRouteCutWhileGossipUp(t *testing.T) {
	nodes, fts := faultyCluster(t, "f", 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	old := routeRID(a, b)
	heal := fault.CutBetween(fts[0], fts[1])
	start := time.Now()
	eventually(t, 15*time.Second, "the a-b route down on both ends", func() bool {
		return !a.srv.HasRoute(b.srv.ID()) && !b.srv.HasRoute(a.srv.ID())
	})
	t.Logf("route down %v after the cut", time.Since(start))
	if !aliveIn(a, b) || !aliveIn(b, a) {
		t.Fatal("gossip lost a or b: the cut did not isolate the route")
	}
	for _, n := range []*node{a, b} {
		if !n.srv.HasRoute(c.srv.ID()) || !c.srv.HasRoute(n.srv.ID()) {
			t.Fatalf("the route between %s and c went too", n.srv.Name())
		}
	}
	// Gossip still shows each alive to the other, so the cluster layer
	// redials; the cut holds those dials.
	eventually(t, 10*time.Second, "a redial held by the cut", func() bool {
		return fts[0].HeldDials()+fts[1].HeldDials() > 0
	})
	if a.srv.HasRoute(b.srv.ID()) || b.srv.HasRoute(a.srv.ID()) {
		t.Fatal("a route between a and b came up through the cut")
	}
	checkTraffic(t, a, c, "cut.a.to.c")

	heal()
	start = time.Now()
	waitMesh(t, nodes, 15*time.Second)
	t.Logf("route back %v after the heal", time.Since(start))
	if rid := routeRID(a, b); rid == old {
		t.Fatalf("route a-b is still connection %d: it was never cut", rid)
	}
	checkTraffic(t, a, b, "healed.a.to.b")
	checkTraffic(t, b, a, "healed.b.to.a")
}

// TestRouteHalfOpenGoesStale cuts only what one broker reads on its route
// (the peer's bytes, PONGs included, are lost; its own PINGs still go
// out): the broker closes the route as stale, the peer sees it go, and
// the route comes back once the cut heals.
func TestRouteHalfOpenGoesStale(t *testing.T) {
	nodes, fts := faultyCluster(t, "h", 2)
	a, b := nodes[0], nodes[1]
	staleBefore := a.srv.Stats().StaleConnections + b.srv.Stats().StaleConnections
	cut := fts[0].Cut(fault.In, fault.Peer(fts[1]))
	eventually(t, 15*time.Second, "the route down on both ends", func() bool {
		return !a.srv.HasRoute(b.srv.ID()) && !b.srv.HasRoute(a.srv.ID())
	})
	// a stops hearing b's PONGs; b, whose PINGs a never reads, may find a
	// stale first (then a's next write fails instead).
	if a.srv.Stats().StaleConnections+b.srv.Stats().StaleConnections == staleBefore {
		t.Fatal("the route went, but not as a stale connection on either end")
	}
	if !aliveIn(a, b) || !aliveIn(b, a) {
		t.Fatal("gossip lost a or b: the cut did not isolate the route")
	}
	cut.Heal()
	waitMesh(t, nodes, 15*time.Second)
	checkTraffic(t, b, a, "half.b.to.a")
}
