package node_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/node"
	"github.com/murmurmq/murmur/transport/quic"
)

// Brokers as separate processes of the real binary, so one can be killed
// with SIGKILL: no goodbye, sockets reset by the kernel.

// waitRoutes waits until a message published on each broker reaches a
// subscriber on the first.
func waitRoutes(t *testing.T, procs []*testutil.Proc) {
	t.Helper()
	probe := dialRetry(t, procs[0].URL())
	defer probe.Close()
	ps, _ := probe.SubscribeSync("probe")
	probe.Flush()
	for _, p := range procs[1:] {
		nc := dialRetry(t, p.URL())
		eventually(t, 10*time.Second, "route to "+p.Name, func() bool {
			nc.Publish("probe", nil)
			_, err := ps.NextMsg(20 * time.Millisecond)
			return err == nil
		})
		nc.Close()
	}
}

// dialRetry connects with nats.go, retrying the handshake race where a
// broker pushes an INFO before the PONG (see connectNode).
func dialRetry(t *testing.T, url string) *nats.Conn {
	t.Helper()
	var err error
	for try := 0; try < 5; try++ {
		var nc *nats.Conn
		if nc, err = nats.Connect(url); err == nil {
			return nc
		}
	}
	t.Fatal(err)
	return nil
}

// TestKillBrokerExactlyOnce: 10,000 acked directs flow among four nodes,
// two of them on a broker that is SIGKILLed a third of the way through.
// Those two reconnect to survivors; redelivery and de-duplication make the
// application see every message exactly once.
func TestKillBrokerExactlyOnce(t *testing.T) {
	p0 := testutil.StartProc(t, "p0", "nodeproc", nil)
	seed := []string{fmt.Sprintf("127.0.0.1:%d", p0.GossipPort)}
	p1 := testutil.StartProc(t, "p1", "nodeproc", seed)
	p2 := testutil.StartProc(t, "p2", "nodeproc", seed)
	waitRoutes(t, []*testutil.Proc{p0, p1, p2})

	cfg := func(id string, servers ...*testutil.Proc) node.Config {
		c := node.Config{
			ID: id, Namespace: "kill",
			AckTimeout: 250 * time.Millisecond, MaxBackoff: time.Second, MaxRedeliveries: 20,
			PresenceInterval: 100 * time.Millisecond, MissedHeartbeats: 50,
			ReconnectWait: 20 * time.Millisecond, MaxUnconfirmed: 256,
			NATSOptions: []nats.Option{nats.DontRandomize()},
		}
		for _, p := range servers {
			c.Servers = append(c.Servers, p.URL())
		}
		return c
	}
	cfgs := []node.Config{
		cfg("s0", p0, p1), cfg("s1", p1, p0),
		cfg("v0", p2, p0, p1), cfg("v1", p2, p1, p0),
	}
	var nodes []*node.Node
	var cols []*collector
	for _, c := range cfgs {
		n := connectNode(t, c)
		nodes = append(nodes, n)
		cols = append(cols, collect(n))
	}
	waitPeers(t, nodes)

	const total = 10000
	per := total / len(nodes)
	log := newSentLog()
	var sentCount sync.WaitGroup
	var killOnce sync.Once
	killed := make(chan time.Time, 1)
	var progress sync.Mutex
	sent := 0
	errs := make(chan error, len(nodes))
	for i, n := range nodes {
		sentCount.Add(1)
		go func() {
			defer sentCount.Done()
			for k := 0; k < per; k++ {
				to := cfgs[(i+1+k%(len(nodes)-1))%len(nodes)].ID
				seq, err := n.Direct(context.Background(), to, []byte(fmt.Sprintf("%s %d", n.ID(), k)))
				if err != nil {
					errs <- err
					return
				}
				log.addDirect(n.ID(), seq, to)
				progress.Lock()
				sent++
				if sent == total/3 {
					killOnce.Do(func() {
						p2.Cmd.Process.Signal(syscall.SIGKILL)
						killed <- time.Now()
					})
				}
				progress.Unlock()
			}
		}()
	}
	sentCount.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	killedAt := <-killed
	eventually(t, 40*time.Second, "all confirmed", func() bool {
		for _, n := range nodes {
			if n.Stats().Unconfirmed != 0 {
				return false
			}
		}
		return true
	})
	t.Logf("all confirmed %v after the kill", time.Since(killedAt))
	lost, dup := 0, 0
	for key, to := range log.direct {
		for i, c := range cfgs {
			if c.ID != to {
				continue
			}
			cols[i].mu.Lock()
			got := cols[i].got[key]
			cols[i].mu.Unlock()
			switch {
			case got == 0:
				lost++
			case got > 1:
				dup += got - 1
			}
		}
	}
	var redelivered, dropped, failed uint64
	for i, n := range nodes {
		s := n.Stats()
		redelivered += s.Redelivered
		dropped += s.DuplicatesDropped
		failed += s.Failed
		if d, _ := cols[i].counts(); d != int(s.DataReceived) {
			t.Errorf("%s: collector saw %d, data_received %d", n.ID(), d, s.DataReceived)
		}
	}
	t.Logf("sent %d: lost %d, duplicated %d (SDK redelivered %d, dropped %d duplicates, failed %d)",
		len(log.direct), lost, dup, redelivered, dropped, failed)
	if len(log.direct) != total || lost != 0 || dup != 0 || failed != 0 {
		t.Fatalf("want %d sent, 0 lost, 0 duplicated, 0 failed", total)
	}
	if redelivered == 0 {
		t.Error("no redelivery: the kill did not hit traffic")
	}
}

// TestQUICFailoverAfterSIGKILL: two nodes on QUIC with default settings,
// pinned to the self-signed certificates of two unclustered broker
// processes, both on the first. It is SIGKILLed with Data in flight; the
// nodes notice the dead path in about 3 s, move to the second broker and
// every Data is confirmed there, none given up.
func TestQUICFailoverAfterSIGKILL(t *testing.T) {
	p0 := testutil.StartQUICProc(t, "q0")
	p1 := testutil.StartQUICProc(t, "q1")
	cfg := func(id string) node.Config {
		c := node.Config{
			ID: id, Namespace: "quickill",
			Servers:     []string{p0.QUICURL(), p1.QUICURL()},
			Transport:   node.TransportQUIC,
			QUIC:        quic.DefaultDialConfig(),
			NATSOptions: []nats.Option{nats.DontRandomize()},
		}
		c.QUIC.Fingerprints = []string{p0.Fingerprint(), p1.Fingerprint()}
		return c
	}
	a, b := connectNode(t, cfg("a")), connectNode(t, cfg("b"))
	cb := collect(b)
	waitPeers(t, []*node.Node{a, b})

	ctx := context.Background()
	if _, err := a.Direct(ctx, "b", []byte("before")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "confirmed before the kill", func() bool { return a.Stats().Unconfirmed == 0 })

	if err := p0.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	const n = 50
	for i := range n {
		if _, err := a.Direct(ctx, "b", fmt.Appendf(nil, "after %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "all confirmed after the kill", func() bool { return a.Stats().Unconfirmed == 0 })
	took := time.Since(killed)
	t.Logf("all %d sent after the SIGKILL confirmed %v after it (default AckTimeout %v)", n, took.Round(time.Millisecond), node.DefaultAckTimeout)
	if s := a.Stats(); s.Failed != 0 {
		t.Fatalf("%d given up: %+v", s.Failed, s)
	}
	if d, dups := cb.counts(); d != n+1 || dups != 0 {
		t.Fatalf("receiver saw %d distinct, %d duplicates; want %d, 0", d, dups, n+1)
	}
	// About 3 s to notice, the reconnect, and the redelivery timer: a
	// generous bound, far below the 30 s stall of the old defaults.
	if took > 15*time.Second {
		t.Errorf("failover took %v", took)
	}
}
