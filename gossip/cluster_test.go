package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestThreeNodesJoinViaOneSeed(t *testing.T) {
	nodes := cluster(t, 3, nil)
	took := waitFor(t, 5*time.Second, "3 nodes to see each other", func() bool { return allAlive(nodes) })
	t.Logf("3-node convergence: %v", took)

	for _, n := range nodes {
		select {
		case <-n.Joined():
		default:
			t.Errorf("%s: Joined not closed", n.Name())
		}
		ms := n.Members()
		if len(ms) != 3 {
			t.Fatalf("%s sees %d members, want 3", n.Name(), len(ms))
		}
		for _, m := range ms {
			if m.Meta.ID != "id-"+m.Name || m.Meta.Cluster != "test" || m.Meta.Name != m.Name ||
				m.Meta.RouteURL != "tcp://127.0.0.1:6222" || !slices.Equal(m.Meta.ClientURLs, []string{"nats://127.0.0.1:4222"}) {
				t.Errorf("%s sees %s with meta %+v", n.Name(), m.Name, m.Meta)
			}
			if m.Addr != "127.0.0.1" || m.Port == 0 || m.Local != (m.Name == n.Name()) {
				t.Errorf("%s sees %s as %+v", n.Name(), m.Name, m)
			}
		}
	}
	// n0 gets a Join event with metadata for each newcomer, none for itself.
	waitFor(t, 2*time.Second, "join events on n0", func() bool {
		return nodes[0].rec.has(EventJoin, "n1") && nodes[0].rec.has(EventJoin, "n2")
	})
	if ev, _ := nodes[0].rec.find(EventJoin, "n1"); ev.Member.Meta.ID != "id-n1" {
		t.Errorf("join event meta = %+v", ev.Member.Meta)
	}
	if nodes[0].rec.has(EventJoin, "n0") {
		t.Error("event delivered for the local node")
	}
}

func TestUpdateMetaPropagates(t *testing.T) {
	nodes := cluster(t, 3, nil)
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })

	meta := nodes[1].LocalMember().Meta
	meta.ClientURLs = []string{"nats://10.0.0.2:4222", "ws://10.0.0.2:8080"}
	meta.Tags = map[string]string{"zone": "b"}
	if err := nodes[1].UpdateMeta(meta); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "update to reach n0 and n2", func() bool {
		for _, n := range []*node{nodes[0], nodes[2]} {
			ev, ok := n.rec.find(EventUpdate, "n1")
			if !ok || !ev.Member.Meta.Equal(meta) || ev.Member.MetaSeq != 1 {
				return false
			}
		}
		return true
	})
	t.Logf("meta update propagation: %v", took)
	for _, m := range nodes[2].Members() {
		if m.Name == "n1" && (!m.Meta.Equal(meta) || m.MetaSeq != 1) {
			t.Errorf("Members shows %+v", m)
		}
	}
	bad := meta
	bad.Cluster = "other"
	if err := nodes[1].UpdateMeta(bad); err == nil {
		t.Error("UpdateMeta accepted a foreign cluster")
	}
}

func TestGracefulLeaveGivesLeaveEvent(t *testing.T) {
	nodes := cluster(t, 3, nil)
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })

	start := time.Now()
	if err := nodes[2].Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("Leave returned after %v", time.Since(start))
	waitFor(t, 5*time.Second, "leave event on n0 and n1", func() bool {
		return nodes[0].rec.has(EventLeave, "n2") && nodes[1].rec.has(EventLeave, "n2")
	})
	for _, n := range nodes[:2] {
		if n.rec.has(EventDead, "n2") {
			t.Errorf("%s got a Dead event for a graceful leave", n.Name())
		}
		if st := states(n.Gossip)["n2"]; st != StateLeft {
			t.Errorf("%s shows n2 as %v, want left", n.Name(), st)
		}
		if n.rec.has(EventUpdate, "n2") {
			t.Errorf("%s got the leaving flag as an Update event", n.Name())
		}
	}
	if err := nodes[2].UpdateMeta(Meta{}); err != ErrLeft {
		t.Errorf("UpdateMeta after Leave = %v, want ErrLeft", err)
	}
}

func TestCrashGivesDeadEvent(t *testing.T) {
	// LAN profile with ProbeInterval 500 ms (fastTiming); see
	// TestLANDefaultsDeadDetection for the untouched profile.
	nodes := cluster(t, 3, nil)
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })

	if err := nodes[2].Close(); err != nil { // no Leave: a crash
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "dead event on n0 and n1", func() bool {
		return nodes[0].rec.has(EventDead, "n2") && nodes[1].rec.has(EventDead, "n2")
	})
	t.Logf("dead detection (LAN, probe 500ms, 3 nodes): %v", took)
	for _, n := range nodes[:2] {
		if n.rec.has(EventLeave, "n2") {
			t.Errorf("%s got a Leave event for a crash", n.Name())
		}
		if st := states(n.Gossip)["n2"]; st != StateDead {
			t.Errorf("%s shows n2 as %v", n.Name(), st)
		}
	}
}

// TestLANDefaultsDeadDetection measures dead detection with the untouched
// LAN profile. It takes about 6 s, so it only runs with GOSSIP_SLOW=1.
func TestLANDefaultsDeadDetection(t *testing.T) {
	if testing.Short() || !slowTests {
		t.Skip("set GOSSIP_SLOW=1")
	}
	nodes := cluster(t, 3, func(_ int, c *Config) { c.Timing = Timing{} })
	waitFor(t, 10*time.Second, "convergence", func() bool { return allAlive(nodes) })
	_ = nodes[2].Close()
	took := waitFor(t, 30*time.Second, "dead event", func() bool {
		return nodes[0].rec.has(EventDead, "n2") && nodes[1].rec.has(EventDead, "n2")
	})
	t.Logf("dead detection (LAN defaults, 3 nodes): %v", took)
}

func TestWrongKeyDoesNotJoin(t *testing.T) {
	a := testConfig("a")
	a.SecretKey = "AAECAwQFBgcICQoLDA0ODw==" // 16 bytes
	na := start(t, a)
	b := testConfig("b")
	b.SecretKeyRaw = []byte("0123456789abcdef0123456789abcdef") // 32 other bytes
	b.Seeds = []string{na.AdvertiseAddr()}
	nb := start(t, b)

	waitFor(t, 5*time.Second, "b to log its failed join", func() bool {
		return logged(nb.logs, zap.NewAtomicLevelAt(zap.WarnLevel), "join failed")
	})
	waitFor(t, 5*time.Second, "a to log the undecryptable stream", func() bool {
		return logged(na.logs, zap.NewAtomicLevelAt(zap.WarnLevel), "no installed key decrypts")
	})
	if len(na.Members()) != 1 || len(nb.Members()) != 1 {
		t.Errorf("members: a %v, b %v", states(na.Gossip), states(nb.Gossip))
	}
	select {
	case <-nb.Joined():
		t.Error("b claims to have joined")
	default:
	}
}

func TestWrongClusterDoesNotJoin(t *testing.T) {
	na := start(t, testConfig("a"))
	b := testConfig("b")
	b.Cluster = "other"
	b.Seeds = []string{na.AdvertiseAddr()}
	nb := start(t, b)

	waitFor(t, 5*time.Second, "b to log its failed join", func() bool {
		return logged(nb.logs, zap.NewAtomicLevelAt(zap.WarnLevel), "join failed")
	})
	waitFor(t, 5*time.Second, "a to log the foreign label", func() bool {
		return logged(na.logs, zap.NewAtomicLevelAt(zap.WarnLevel), "another cluster")
	})
	if len(na.Members()) != 1 || len(nb.Members()) != 1 {
		t.Errorf("members: a %v, b %v", states(na.Gossip), states(nb.Gossip))
	}
}

// TestForeignClusterMetaRefused reaches the metadata check that backs up
// the label: with labels off, the merge delegate must still refuse.
func TestForeignClusterMetaRefused(t *testing.T) {
	a := testConfig("a")
	a.noLabel = true
	na := start(t, a)
	b := testConfig("b")
	b.noLabel = true
	b.Cluster = "other"
	b.Seeds = []string{na.AdvertiseAddr()}
	nb := start(t, b)

	waitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
		warn := zap.NewAtomicLevelAt(zap.WarnLevel)
		return logged(na.logs, warn, "refusing node") && logged(nb.logs, warn, "join failed")
	})
	if len(na.Members()) != 1 || len(nb.Members()) != 1 {
		t.Errorf("members: a %v, b %v", states(na.Gossip), states(nb.Gossip))
	}
}

func TestPartitionHealsByRejoin(t *testing.T) {
	faults := NewFaults()
	nodes := cluster(t, 3, func(i int, c *Config) {
		if i == 2 {
			c.Faults = faults
		}
	})
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })

	faults.Partition()
	took := waitFor(t, 10*time.Second, "both sides to declare the other dead", func() bool {
		s0, s1, s2 := states(nodes[0].Gossip), states(nodes[1].Gossip), states(nodes[2].Gossip)
		return s0["n2"] == StateDead && s1["n2"] == StateDead && s2["n0"] == StateDead && s2["n1"] == StateDead
	})
	t.Logf("partition detected after %v", took)

	// Keep the partition until memberlist has stopped gossiping to the
	// dead on both sides: from here on only the re-join loop can heal it.
	waitGossipToTheDeadOver(t, nodes[:2], nodes[2:])
	if faults.Dropped() == 0 {
		t.Fatal("faults dropped nothing")
	}

	before := nodes[0].rejoins.Load() + nodes[1].rejoins.Load() + nodes[2].rejoins.Load()
	faults.Heal()
	took = waitFor(t, 10*time.Second, "the partition to heal", func() bool { return allAlive(nodes) })
	t.Logf("partition healed %v after restore", took)
	// Usually a re-join round does it; under heavy load memberlist may
	// still be gossiping to the dead side and merge on its own first.
	// (TestPartitionStaysWithoutRejoin, under GOSSIP_SLOW, shows the
	// re-join loop is what heals once memberlist has given up.)
	after := nodes[0].rejoins.Load() + nodes[1].rejoins.Load() + nodes[2].rejoins.Load()
	t.Logf("re-join rounds during the heal: %d", after-before)
	waitFor(t, 2*time.Second, "join events after heal", func() bool {
		return nodes[0].rec.has(EventJoin, "n2") && nodes[2].rec.has(EventJoin, "n0")
	})
}

func TestTenNodesConverge(t *testing.T) {
	const n = 10
	start := time.Now()
	nodes := cluster(t, n, func(i int, c *Config) {
		if i > 1 {
			c.Seeds = append(c.Seeds, fmt.Sprintf("127.0.0.1:%d", 1)) // a dead seed must not hurt
		}
	})
	started := time.Since(start)
	took := waitFor(t, 15*time.Second, "10 nodes to converge", func() bool {
		for _, nd := range nodes {
			ms := nd.Members()
			if len(ms) != n {
				return false
			}
			for _, m := range ms {
				if m.State != StateAlive || m.Meta.ID != "id-"+m.Name {
					return false
				}
			}
		}
		return true
	})
	t.Logf("10 nodes: started in %v, converged %v after the last start", started, took)
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	if left := waitNoGossipGoroutines(5 * time.Second); len(left) > 0 {
		t.Fatalf("goroutines left by earlier tests:\n%s", left[0])
	}
	var gs []*Gossip
	for i := range 3 {
		cfg := testConfig(fmt.Sprintf("c%d", i))
		if i > 0 {
			cfg.Seeds = []string{gs[0].AdvertiseAddr()}
		}
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	waitFor(t, 5*time.Second, "convergence", func() bool {
		for _, g := range gs {
			if len(g.Members()) != 3 {
				return false
			}
		}
		return true
	})
	for _, g := range gs {
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		for range g.Events() { // must be closed, possibly after buffered events
		}
	}
	if left := waitNoGossipGoroutines(5 * time.Second); len(left) > 0 {
		t.Fatalf("%d goroutines left after Close, first:\n%s", len(left), left[0])
	}
}

func TestKeyRotation(t *testing.T) {
	k1 := []byte("0123456789abcdef")
	k2 := []byte("fedcba9876543210fedcba98")
	nodes := cluster(t, 2, func(_ int, c *Config) { c.SecretKeyRaw = k1 })
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })
	for _, n := range nodes {
		if err := n.InstallKey(k2); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if err := n.UseKey(k2); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if err := n.RemoveKey(k1); err != nil {
			t.Fatal(err)
		}
		if err := n.RemoveKey(k2); err == nil {
			t.Error("removed the key in use")
		}
	}
	meta := nodes[1].LocalMember().Meta
	meta.Version = "0.2.0"
	if err := nodes[1].UpdateMeta(meta); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "update under the new key", func() bool {
		ev, ok := nodes[0].rec.find(EventUpdate, "n1")
		return ok && ev.Member.Meta.Version == "0.2.0"
	})
	if err := nodes[0].InstallKey([]byte("short")); err == nil {
		t.Error("InstallKey accepted a 5-byte key")
	}

	plain := start(t, testConfig("plain"))
	if err := plain.InstallKey(k1); err != ErrNoEncryption {
		t.Errorf("InstallKey without encryption = %v", err)
	}
}

// TestPartitionStaysWithoutRejoin is the control for
// TestPartitionHealsByRejoin: with the re-join loop off, memberlist alone
// does not heal a partition that outlasted GossipToTheDeadTime. It takes
// about 16 s, so it only runs with GOSSIP_SLOW=1.
func TestPartitionStaysWithoutRejoin(t *testing.T) {
	if testing.Short() || !slowTests {
		t.Skip("set GOSSIP_SLOW=1")
	}
	faults := NewFaults()
	nodes := cluster(t, 3, func(i int, c *Config) {
		c.RejoinInterval = -1
		if i == 2 {
			c.Faults = faults
		}
	})
	waitFor(t, 5*time.Second, "convergence", func() bool { return allAlive(nodes) })
	faults.Partition()
	waitFor(t, 10*time.Second, "both sides to declare the other dead", func() bool {
		return states(nodes[0].Gossip)["n2"] == StateDead && states(nodes[2].Gossip)["n0"] == StateDead
	})
	waitGossipToTheDeadOver(t, nodes[:2], nodes[2:])
	faults.Heal()
	// Nothing marks the moment memberlist would have healed on its own, so
	// this watches a window: two push/pull rounds (the longest of
	// memberlist's periodic exchanges), with probes and gossip every
	// fraction of a second.
	holds(t, 2*fastTiming.PushPullInterval, "the partition without the re-join loop", func() bool { return !allAlive(nodes) })
}
