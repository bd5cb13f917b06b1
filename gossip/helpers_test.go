package gossip

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestMain fails the run if any gossip or memberlist goroutine outlives the
// tests (every test closes its nodes in Cleanup).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := waitNoGossipGoroutines(5 * time.Second); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", strings.Join(left, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// fastTiming is the LAN profile with probes twice as fast and a short
// dead-node memory, so that the failure tests finish in seconds.
var fastTiming = Timing{
	ProbeInterval:       500 * time.Millisecond,
	ProbeTimeout:        250 * time.Millisecond,
	GossipInterval:      100 * time.Millisecond,
	PushPullInterval:    5 * time.Second,
	GossipToTheDeadTime: time.Second,
	TCPTimeout:          2 * time.Second,
}

// testConfig returns a config for a node on 127.0.0.1 with a free port.
func testConfig(name string) Config {
	c := DefaultConfig()
	c.Cluster = "test"
	c.Name = name
	c.BindAddr = "127.0.0.1"
	c.BindPort = 0
	c.Profile = ProfileLAN
	c.Timing = fastTiming
	c.RejoinInterval = time.Second
	c.JoinBackoffMin = 50 * time.Millisecond
	c.JoinBackoffMax = 500 * time.Millisecond
	c.Meta = Meta{
		ID:         "id-" + name,
		Version:    "0.1.0",
		RouteURL:   "tcp://127.0.0.1:6222",
		ClientURLs: []string{"nats://127.0.0.1:4222"},
	}
	return c
}

// node is a Gossip under test with its event recorder and logs.
type node struct {
	*Gossip
	rec  *recorder
	logs *observer.ObservedLogs
}

// start starts a node; Cleanup closes it and, if the test failed, prints
// its logs.
func start(t *testing.T, cfg Config) *node {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	cfg.Logger = zap.New(core)
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.Name, err)
	}
	n := &node{Gossip: g, rec: record(g), logs: logs}
	t.Cleanup(func() {
		_ = g.Close()
		<-n.rec.done
		if t.Failed() {
			for _, e := range logs.All() {
				if e.Level > zap.DebugLevel || testing.Verbose() {
					t.Logf("%s %s %s %v", cfg.Name, e.Level, e.Message, e.ContextMap())
				}
			}
		}
	})
	return n
}

// cluster starts n nodes; all but the first use the first as seed.
func cluster(t *testing.T, n int, tweak func(i int, c *Config)) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range n {
		cfg := testConfig(fmt.Sprintf("n%d", i))
		if i > 0 {
			cfg.Seeds = []string{nodes[0].AdvertiseAddr()}
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		nodes[i] = start(t, cfg)
	}
	return nodes
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond) // polling period, not synchronisation
	}
	return time.Since(start)
}

// holds checks cond over a window of d, failing at the first poll where it
// does not hold: for a thing that must not happen, where nothing
// observable marks the moment it would have.
func holds(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !cond() {
			t.Fatalf("%s no longer holds", what)
		}
	}
}

// waitGossipToTheDeadOver waits, for every node of a and every node of b,
// until each sees the other dead for twice GossipToTheDeadTime. memberlist
// gossips to a dead member only until GossipToTheDeadTime after it marked
// it dead (Member.Since is set in the callback of that change, so it is no
// earlier); past that, nothing of memberlist's reaches across a partition
// between a and b, and only the re-join loop can heal it. A view that
// turns alive meanwhile fails the test: the partition healed while traffic
// was cut.
func waitGossipToTheDeadOver(t *testing.T, a, b []*node) time.Duration {
	t.Helper()
	over := 2 * fastTiming.GossipToTheDeadTime
	view := func(n, o *node) bool {
		for _, m := range n.Members() {
			if m.Name != o.Name() {
				continue
			}
			if m.State != StateDead {
				t.Fatalf("%s sees %s %v: the partition healed while traffic was cut", n.Name(), o.Name(), m.State)
			}
			return time.Since(m.Since) > over
		}
		t.Fatalf("%s has forgotten %s (DeadRetention too short for the test)", n.Name(), o.Name())
		return false
	}
	return waitFor(t, 10*time.Second, "memberlist to stop gossiping to the dead", func() bool {
		for _, n := range a {
			for _, o := range b {
				if !view(n, o) || !view(o, n) {
					return false
				}
			}
		}
		return true
	})
}

// states returns name -> state of g's members.
func states(g *Gossip) map[string]State {
	out := map[string]State{}
	for _, m := range g.Members() {
		out[m.Name] = m.State
	}
	return out
}

// allAlive reports whether every node sees every node alive.
func allAlive(nodes []*node) bool {
	for _, n := range nodes {
		st := states(n.Gossip)
		for _, o := range nodes {
			if st[o.Name()] != StateAlive {
				return false
			}
		}
	}
	return true
}

// recorder collects a node's events.
type recorder struct {
	mu   sync.Mutex
	evs  []Event
	done chan struct{}
}

func record(g *Gossip) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range g.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

// find returns the last event of type typ about member name.
func (r *recorder) find(typ EventType, name string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.evs) - 1; i >= 0; i-- {
		if e := r.evs[i]; e.Type == typ && e.Member.Name == name {
			return e, true
		}
	}
	return Event{}, false
}

func (r *recorder) has(typ EventType, name string) bool {
	_, ok := r.find(typ, name)
	return ok
}

// logged reports whether a log entry at level or above contains substr in
// its message or fields.
func logged(logs *observer.ObservedLogs, level zap.AtomicLevel, substr string) bool {
	for _, e := range logs.All() {
		if !level.Enabled(e.Level) {
			continue
		}
		if strings.Contains(e.Message, substr) || strings.Contains(fmt.Sprint(e.ContextMap()), substr) {
			return true
		}
	}
	return false
}

// gossipGoroutines returns the stacks of goroutines running gossip or
// memberlist code, other than the caller's.
func gossipGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		if strings.Contains(g, "hashicorp/memberlist") ||
			strings.Contains(g, "murmur/gossip.(*") ||
			strings.Contains(g, "murmur/gossip.dispatch") ||
			strings.Contains(g, "murmur/gossip.record") {
			out = append(out, g)
		}
	}
	return out
}

func waitNoGossipGoroutines(within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		left := gossipGoroutines()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowTests enables measurements that take longer than the suite budget.
var slowTests = os.Getenv("GOSSIP_SLOW") == "1"
