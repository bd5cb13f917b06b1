package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/tcp"
)

// TestRouteInterestQueuedBeforeVisible: at the moment a new route can be
// seen in s.routes (where a client's interest barrier looks for the
// routes to PING), it already has the broker's full interest queued and
// is subscribed to changes. Were it visible first, a SUB and its PING in
// between would queue the barrier's PING ahead of the interest, and the
// peer's PONG would release the client's Flush before the peer knew the
// subscription.
func TestRouteInterestQueuedBeforeVisible(t *testing.T) {
	var mu sync.Mutex
	checked, missing := 0, 0
	routeRegistered = func(s *Server, c *route) {
		s.interest.mu.Lock()
		_, ok := s.interest.routes[c]
		s.interest.mu.Unlock()
		mu.Lock()
		checked++
		if !ok {
			missing++
		}
		mu.Unlock()
	}
	t.Cleanup(func() { routeRegistered = nil })
	srvs := make([]*Server, 2)
	for i := range srvs {
		o := DefaultOptions()
		o.Host, o.Port = "127.0.0.1", -1
		o.Name = []string{"a", "b"}[i]
		o.Cluster = &ClusterOptions{Name: "test", Listen: Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}, Credential: "secret"}
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srvs[i] = s
	}
	if err := srvs[0].ConnectRoute(context.Background(), srvs[1].RouteAddr().String()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a route registered on each broker", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return checked >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if missing > 0 {
		t.Fatalf("%d of %d routes were visible before their interest was queued", missing, checked)
	}
}
