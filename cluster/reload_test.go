package cluster_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/gossip"
)

func TestGossipKeyRotationWithoutDowntime(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	k2 := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))
	seed := startNode(t, "r0", nodeOpts{key: k1})
	nodes := []*node{seed,
		startNode(t, "r1", nodeOpts{key: k1, seeds: []string{seed.gossipAddr()}}),
		startNode(t, "r2", nodeOpts{key: k1, seeds: []string{seed.gossipAddr()}}),
	}
	waitMesh(t, nodes, 10*time.Second)
	sub := connect(t, nodes[2].srv)
	s, _ := sub.SubscribeSync("rot")
	sub.Flush()
	waitInterest(t, nodes, "rot", 1)
	pub := connect(t, nodes[0].srv)
	sent := 0
	check := func(stage string) {
		t.Helper()
		pub.Publish("rot", []byte(stage))
		sent++
		if m, err := s.NextMsg(5 * time.Second); err != nil || string(m.Data) != stage {
			t.Fatalf("%s: traffic interrupted: %v", stage, err)
		}
		for _, n := range nodes {
			if n.srv.NumRoutes() != 2 {
				t.Fatalf("%s: %s lost a route", stage, n.srv.Name())
			}
		}
	}
	steps := []struct {
		name  string
		key   string
		extra []string
	}{
		{"install new key", k1, []string{k2}},
		{"switch primary", k2, []string{k1}},
		{"drop old key", k2, nil},
	}
	for _, st := range steps {
		for _, n := range nodes {
			cfg := fastGossip() // as the node was started, with new keys
			cfg.SecretKey, cfg.ExtraKeys = st.key, st.extra
			cfg.Seeds = []string{seed.gossipAddr()}
			if err := n.cl.Reload(cfg); err != nil {
				t.Fatalf("%s on %s: %v", st.name, n.srv.Name(), err)
			}
		}
		// Gossip between every pair under the new keys, then traffic.
		gossipRound(t, nodes, st.name)
		check(st.name)
	}
	// Only the new key gets in now.
	late := startNode(t, "late-new", nodeOpts{key: k2, seeds: []string{seed.gossipAddr()}})
	waitMesh(t, append(nodes, late), 10*time.Second)
	core, logs := observer.New(zap.DebugLevel)
	stale := startNode(t, "late-old", nodeOpts{key: k1, seeds: []string{seed.gossipAddr()}, log: zap.New(core)})
	// The seed late-new just joined through refuses late-old: its join
	// fails, and fails again on the retry.
	eventually(t, 10*time.Second, "late-old's join to fail twice", func() bool {
		select {
		case <-stale.cl.Gossip().Joined():
			t.Fatal("a node with the retired key joined")
		default:
		}
		return logs.FilterMessage("gossip: join failed, retrying").Len() >= 2
	})
	// Had the seed taken late-old in (it merges a joiner's state after
	// answering it), a full gossip round spreads it to everyone.
	members := append(nodes, late)
	gossipRound(t, members, "after late-old's attempts")
	for _, n := range members {
		for _, m := range n.cl.Members() {
			if m.Meta.ID == stale.srv.ID() {
				t.Fatalf("%s lists late-old (%v): the retired key got in", n.srv.Name(), m.State)
			}
		}
		if n.srv.HasRoute(stale.srv.ID()) {
			t.Fatalf("%s has a route to late-old", n.srv.Name())
		}
	}
	if stale.srv.NumRoutes() != 0 {
		t.Fatalf("late-old has %d routes", stale.srv.NumRoutes())
	}
}

// gossipRound has every node gossip a metadata update (the same metadata,
// a new sequence number) and waits until every node has every other's:
// proof that gossip flows between every pair under the keys in use.
func gossipRound(t *testing.T, nodes []*node, stage string) {
	t.Helper()
	want := map[string]uint64{} // member name -> sequence number to see
	for _, n := range nodes {
		g := n.cl.Gossip()
		before := g.LocalMember()
		if err := g.UpdateMeta(before.Meta); err != nil {
			t.Fatalf("%s: UpdateMeta on %s: %v", stage, g.Name(), err)
		}
		want[g.Name()] = before.MetaSeq + 1
	}
	eventually(t, 10*time.Second, stage+": every node's update seen by all", func() bool {
		for _, n := range nodes {
			seen := 0
			for _, m := range n.cl.Members() {
				if w, ok := want[m.Name]; ok && !m.Local && m.State == gossip.StateAlive && m.MetaSeq >= w {
					seen++
				}
			}
			if seen != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

func TestReloadSeeds(t *testing.T) {
	a := startNode(t, "sa", nodeOpts{})
	b := startNode(t, "sb", nodeOpts{}) // knows nobody
	cfg := fastGossip()
	cfg.Seeds = []string{b.gossipAddr()}
	if err := a.cl.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	// The periodic re-join now reaches b.
	waitMesh(t, []*node{a, b}, 10*time.Second)
	nc := connect(t, b.srv)
	s, _ := nc.SubscribeSync("seeded")
	nc.Flush()
	waitInterest(t, []*node{a}, "seeded", 1)
	connect(t, a.srv).Publish("seeded", nil)
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Things that need a restart are refused.
	adv := cfg
	adv.AdvertiseAddr = "127.0.0.2"
	if err := a.cl.Reload(adv); err == nil || !strings.Contains(err.Error(), "gossip.advertise") {
		t.Fatalf("advertise change: %v", err)
	}
	cfg.Profile = gossip.ProfileWAN
	if err := a.cl.Reload(cfg); err == nil {
		t.Fatal("profile change accepted by reload")
	}
}
