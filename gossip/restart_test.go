package gossip

import (
	"testing"
	"time"
)

// restartable starts a 3-node cluster and returns it with a function
// that closes node 2 without a leave (a crash) and starts cfg in its
// place at the same gossip address, seeded by node 0.
func restartable(t *testing.T) ([]*node, func(wait bool, name, id string) *node) {
	t.Helper()
	nodes := cluster(t, 3, nil)
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })
	port, seed := nodes[2].Port(), nodes[0].AdvertiseAddr()
	return nodes, func(waitDead bool, name, id string) *node {
		if err := nodes[2].Close(); err != nil {
			t.Fatal(err)
		}
		if waitDead {
			waitFor(t, 5*time.Second, "n2 declared dead", func() bool {
				return states(nodes[0].Gossip)["n2"] == StateDead && states(nodes[1].Gossip)["n2"] == StateDead
			})
		}
		c := testConfig(name)
		c.Meta.ID = id
		c.BindPort = port
		c.Seeds = []string{seed}
		return start(t, c)
	}
}

// onlyAlive waits until every node lists exactly want, all alive, with
// the new id on the restarted one.
func onlyAlive(t *testing.T, nodes []*node, restarted, id string, want ...string) time.Duration {
	t.Helper()
	return waitFor(t, 5*time.Second, "the restarted node alive and no dead entry", func() bool {
		for _, n := range nodes {
			ms := n.Members()
			if len(ms) != len(want) {
				return false
			}
			for i, m := range ms {
				if m.Name != want[i] || m.State != StateAlive || (m.Name == restarted && m.Meta.ID != id) {
					return false
				}
			}
		}
		return true
	})
}

// TestRestartSameNameTakesOver: a node that crashed and restarted with
// the same name and address (a new id in its metadata) is alive again on
// every node within a few probe rounds, whether it was already declared
// dead or not; no dead entry stays behind.
func TestRestartSameNameTakesOver(t *testing.T) {
	for _, waitDead := range []bool{true, false} {
		name := map[bool]string{true: "after dead", false: "before detection"}[waitDead]
		t.Run(name, func(t *testing.T) {
			nodes, restart := restartable(t)
			n2 := restart(waitDead, "n2", "id-n2-again")
			took := onlyAlive(t, []*node{nodes[0], nodes[1], n2}, "n2", "id-n2-again", "n0", "n1", "n2")
			t.Logf("restarted node alive everywhere after %v", took)
			if !waitDead {
				return
			}
			waitFor(t, 2*time.Second, "a join event for the returning node", func() bool {
				ev, ok := nodes[0].rec.find(EventJoin, "n2")
				return ok && ev.Member.Meta.ID == "id-n2-again"
			})
		})
	}
}

// TestRestartNewNameSameAddress: a node restarted at the same address
// under another name (a broker without a server name gets a new id each
// start) replaces the dead entry of its former self at once.
func TestRestartNewNameSameAddress(t *testing.T) {
	nodes, restart := restartable(t)
	n3 := restart(true, "n3", "id-n3")
	took := onlyAlive(t, []*node{nodes[0], nodes[1], n3}, "n3", "id-n3", "n0", "n1", "n3")
	t.Logf("dead entry replaced after %v", took)
}
