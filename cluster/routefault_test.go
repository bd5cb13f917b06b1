package cluster_test

import (
	"testing"
	"time"

	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/transport/fault"
)

// TestRouteCutWhileGossipUp: a route cut both ways while gossip still
// sees both brokers alive is detected as stale and closed; the cluster
// redials it, and once the cut heals the route is back and carries
// traffic again. Gossip never noticed.
func TestRouteCutWhileGossipUp(t *testing.T) {
	a := startNode(t, "ca", nodeOpts{fastPing: true})
	b := startNode(t, "cb", nodeOpts{fastPing: true, seeds: []string{a.gossipAddr()}})
	nodes := []*node{a, b}
	waitMesh(t, nodes, 10*time.Second)
	sub := connect(t, b.srv)
	s, _ := sub.SubscribeSync("cut")
	sub.Flush()
	waitInterest(t, nodes, "cut", 1)
	pub := connect(t, a.srv)
	send := func(what string) {
		t.Helper()
		pub.Publish("cut", []byte(what))
		if m, err := s.NextMsg(5 * time.Second); err != nil || string(m.Data) != what {
			t.Fatalf("%s: %v", what, err)
		}
	}
	send("before")

	a.routes.Cut(fault.Both)
	eventually(t, 10*time.Second, "the cut route closed on both sides", func() bool {
		return a.srv.NumRoutes() == 0 && b.srv.NumRoutes() == 0
	})
	for _, n := range nodes {
		for _, m := range n.cl.Members() {
			if m.State != gossip.StateAlive {
				t.Fatalf("gossip saw %s as %v: the cut reached gossip", m.Name, m.State)
			}
		}
	}
	a.routes.Heal()
	waitMesh(t, nodes, 15*time.Second)
	waitInterest(t, nodes, "cut", 1)
	send("after")
}
