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
