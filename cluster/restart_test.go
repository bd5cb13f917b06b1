package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/internal/testutil"
)

// TestRestartSameNameReplacesDeadMember: three brokers; one is killed
// (gossip closed without a leave, broker closed) and restarted with the
// same server name and gossip address, so with a new server id. Within
// a few seconds every broker lists it alive under its new id, lists no
// dead member, and routes to the new id only, whether the restart came
// after the others declared it dead or before they noticed.
func TestRestartSameNameReplacesDeadMember(t *testing.T) {
	for _, afterDead := range []bool{true, false} {
		t.Run(map[bool]string{true: "after dead", false: "before detection"}[afterDead], func(t *testing.T) {
			port := testutil.FreePort(t)
			n0 := startNode(t, "n0", nodeOpts{})
			seeds := []string{n0.gossipAddr()}
			n1 := startNode(t, "n1", nodeOpts{seeds: seeds})
			n2 := startNode(t, "n2", nodeOpts{seeds: seeds, gossipPort: port})
			waitMesh(t, []*node{n0, n1, n2}, 10*time.Second)
			oldID := n2.srv.ID()

			n2.stop() // no leave: a crash
			if afterDead {
				eventually(t, 10*time.Second, "n2 declared dead", func() bool {
					return memberState(n0, "n2") == gossip.StateDead && memberState(n1, "n2") == gossip.StateDead
				})
			}
			start := time.Now()
			n2 = startNode(t, "n2", nodeOpts{seeds: seeds, gossipPort: port})
			newID := n2.srv.ID()
			if newID == oldID {
				t.Fatal("the restarted broker kept its server id")
			}
			nodes := []*node{n0, n1, n2}
			eventually(t, 5*time.Second, "n2 alive under its new id everywhere, no dead member", func() bool {
				for _, n := range nodes {
					ms := n.cl.Members()
					if len(ms) != 3 {
						return false
					}
					for _, m := range ms {
						if m.State != gossip.StateAlive || (m.Name == "n2" && m.Meta.ID != newID) {
							return false
						}
					}
				}
				return true
			})
			t.Logf("replaced in %v", time.Since(start))
			eventually(t, 5*time.Second, "routes to the new id only", func() bool {
				for _, n := range []*node{n0, n1} {
					ids := n.srv.RouteIDs()
					if len(ids) != 2 || !slices.Contains(ids, newID) || slices.Contains(ids, oldID) {
						return false
					}
				}
				return n2.srv.NumRoutes() == 2
			})
		})
	}
}

// memberState is how n sees the member called name (0: not listed).
func memberState(n *node, name string) gossip.State {
	for _, m := range n.cl.Members() {
		if m.Name == name {
			return m.State
		}
	}
	return 0
}
