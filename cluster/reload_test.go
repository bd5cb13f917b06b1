package cluster_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

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
		// Through a full push/pull round under the new keys, every member
		// stays alive and every route up; then traffic.
		holds(t, 300*time.Millisecond, st.name+": members and routes", func() bool {
			for _, n := range nodes {
				if n.srv.NumRoutes() != 2 {
					return false
				}
				for _, m := range n.cl.Members() {
					if m.State != gossip.StateAlive {
						return false
					}
				}
			}
			return true
		})
		check(st.name)
	}
	// Only the new key gets in now.
	late := startNode(t, "late-new", nodeOpts{key: k2, seeds: []string{seed.gossipAddr()}})
	waitMesh(t, append(nodes, late), 10*time.Second)
	stale := startNode(t, "late-old", nodeOpts{key: k1, seeds: []string{seed.gossipAddr()}})
	holds(t, time.Second, "the node with the retired key stays out", func() bool {
		return stale.srv.NumRoutes() == 0 && len(stale.cl.Members()) == 1
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
