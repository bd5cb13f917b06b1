package cluster_test

import (
	"testing"
	"time"

	"github.com/murmurmq/murmur/cluster"
)

// TestStaticRoutes: brokers given each other's route addresses (as
// nats-server's cluster.routes) form a cluster with no gossip seeds: the
// route comes up, is kept though gossip does not know the peer, carries
// messages, is redialed when it drops; a route to itself is dropped.
func TestStaticRoutes(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{})
	sa := cluster.StartStatic(a.srv, []string{b.srv.RouteAddr().String(), a.srv.RouteAddr().String()}, nil)
	defer sa.Close()
	a.cl.PinRoutes(sa.Pinned)
	sb := cluster.StartStatic(b.srv, []string{a.srv.RouteAddr().String()}, nil)
	defer sb.Close()
	b.cl.PinRoutes(sb.Pinned)
	up := func() bool { return a.srv.NumRoutes() == 1 && b.srv.NumRoutes() == 1 }
	eventually(t, 5*time.Second, "the configured route up", up)

	sub := connect(t, b.srv)
	s, err := sub.SubscribeSync("over.route")
	if err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	waitInterest(t, []*node{a}, "over.route", 1)
	pub := connect(t, a.srv)
	// The two brokers' crossing dials settle on one route; a message sent
	// meanwhile may ride the one being closed: send until one arrives.
	eventually(t, 5*time.Second, "a message over the configured route", func() bool {
		if err := pub.Publish("over.route", []byte("x")); err != nil {
			t.Fatal(err)
		}
		_, err := s.NextMsg(200 * time.Millisecond)
		return err == nil
	})

	// Kept past the 5 s grace the cluster gives routed brokers gossip does
	// not know (then it prunes them): the same route (RID) still stands.
	// Nothing to wait on but time.
	rid := a.srv.Routes()[0].RID
	time.Sleep(6 * time.Second)
	if rs := a.srv.Routes(); len(rs) != 1 || rs[0].RID != rid {
		t.Fatalf("the configured route was pruned and redialed: %+v", rs)
	}
	a.srv.CloseRoute(b.srv.ID())
	eventually(t, 10*time.Second, "the configured route redialed", func() bool {
		return up() && sa.Pinned(b.srv.ID())
	})
	if sa.Pinned(a.srv.ID()) {
		t.Error("a route to itself was kept")
	}
}
