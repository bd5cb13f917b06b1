package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/node"
)

// Brokers as separate processes of the real binary, so one can be killed
// with SIGKILL: no goodbye, sockets reset by the kernel.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func brokerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs broker processes")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "murmur-node-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "broker")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/broker").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// proc is one broker process.
type proc struct {
	name       string
	cmd        *exec.Cmd
	clientPort int
	gossipPort int
	mu         sync.Mutex
	log        bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *proc) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.clientPort) }

func startProc(t *testing.T, name string, seeds []string) *proc {
	t.Helper()
	p := &proc{name: name, clientPort: freePort(t), gossipPort: freePort(t)}
	args := []string{
		"-a", "127.0.0.1", "-p", fmt.Sprint(p.clientPort), "-n", name, "-m", "-1",
		"--cluster", "127.0.0.1:0", "--cluster_name", "nodeproc",
		"--gossip_addr", "127.0.0.1", "--gossip_port", fmt.Sprint(p.gossipPort),
	}
	if len(seeds) > 0 {
		args = append(args, "--gossip_seeds", strings.Join(seeds, ","))
	}
	p.cmd = exec.Command(brokerBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("--- log of %s ---\n%s", p.name, p.log.String())
			p.mu.Unlock()
		}
	})
	eventually(t, 10*time.Second, name+" listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.clientPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

// waitRoutes waits until a message published on each broker reaches a
// subscriber on the first.
func waitRoutes(t *testing.T, procs []*proc) {
	t.Helper()
	probe := dialRetry(t, procs[0].url())
	defer probe.Close()
	ps, _ := probe.SubscribeSync("probe")
	probe.Flush()
	for _, p := range procs[1:] {
		nc := dialRetry(t, p.url())
		eventually(t, 10*time.Second, "route to "+p.name, func() bool {
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
	p0 := startProc(t, "p0", nil)
	seed := []string{fmt.Sprintf("127.0.0.1:%d", p0.gossipPort)}
	p1 := startProc(t, "p1", seed)
	p2 := startProc(t, "p2", seed)
	waitRoutes(t, []*proc{p0, p1, p2})

	cfg := func(id string, servers ...*proc) node.Config {
		c := node.Config{
			ID: id, Namespace: "kill",
			AckTimeout: 250 * time.Millisecond, MaxBackoff: time.Second, MaxRedeliveries: 20,
			PresenceInterval: 100 * time.Millisecond, MissedHeartbeats: 50,
			ReconnectWait: 20 * time.Millisecond, MaxUnconfirmed: 256,
			NATSOptions: []nats.Option{nats.DontRandomize()},
		}
		for _, p := range servers {
			c.Servers = append(c.Servers, p.url())
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
						p2.cmd.Process.Signal(syscall.SIGKILL)
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
