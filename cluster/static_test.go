package cluster_test

import (
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/transport/tcp"
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

// startBare starts a clustered broker with no gossip, as a cluster built of
// configured routes alone runs, and keeps routes to routes (with implicit
// routes learned, as cmd/broker wires them).
func startBare(t *testing.T, name string, routes ...string) (*node, *cluster.Static) {
	t.Helper()
	bo := broker.DefaultOptions()
	bo.Host, bo.Port, bo.Name = "127.0.0.1", -1, name
	bo.Cluster = &broker.ClusterOptions{
		Name:   "test",
		Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"},
	}
	srv, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	st := cluster.StartStatic(srv, routes, nil)
	srv.SetRouteLearner(st.Learn)
	t.Cleanup(func() {
		st.Close()
		srv.Close()
	})
	return &node{srv: srv}, st
}

// TestImplicitRoutes: brokers that were each given only the seed's route
// address (nats-server's usual cluster.routes layout) learn of each other
// from the seed and form the full mesh, so a message crosses between two
// that were never told of each other, exactly once; a broker that joins
// later is meshed too, and one that goes away is forgotten.
func TestImplicitRoutes(t *testing.T) {
	seed, _ := startBare(t, "seed")
	seedAddr := seed.srv.RouteAddr().String()
	a, _ := startBare(t, "a", seedAddr)
	b, _ := startBare(t, "b", seedAddr)
	nodes := []*node{seed, a, b}
	waitMesh(t, nodes, 10*time.Second)

	sub := connect(t, b.srv)
	s, err := sub.SubscribeSync("implicit")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	waitInterest(t, []*node{a}, "implicit", 1)
	pub := connect(t, a.srv)
	if err := pub.Publish("implicit", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("a message from a to b (routes only through the seed's INFO): %v", err)
	}
	if m, err := s.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("delivered twice: %q", m.Data)
	}

	c, _ := startBare(t, "c", a.srv.RouteAddr().String()) // told only of a
	nodes = append(nodes, c)
	waitMesh(t, nodes, 10*time.Second)

	c.srv.Close()
	eventually(t, 10*time.Second, "c's routes gone", func() bool {
		for _, n := range nodes[:3] {
			if n.srv.NumRoutes() != 2 {
				return false
			}
		}
		return true
	})
}
