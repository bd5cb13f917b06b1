package cluster_test

import (
	"bytes"
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
)

// These tests run brokers as separate processes of the real binary, so one
// can be killed with SIGKILL: no leave, no goodbye, sockets reset by the
// kernel.

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
		dir, err := os.MkdirTemp("", "murmur-bin")
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

// freePort returns a port free for both TCP and UDP on 127.0.0.1 (gossip
// needs both).
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

func (p *proc) logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Contains(p.log.String(), s)
}

func (p *proc) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.clientPort) }

func startProc(t *testing.T, name string, seeds []string) *proc {
	t.Helper()
	p := &proc{name: name, clientPort: freePort(t), gossipPort: freePort(t)}
	args := []string{
		"-a", "127.0.0.1", "-p", fmt.Sprint(p.clientPort), "-n", name, "-m", "-1",
		"--cluster", "127.0.0.1:0", "--cluster_name", "proc",
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
			t.Logf("--- log of %s ---\n%s", p.name, p.log.String())
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

func TestKillBrokerProcess(t *testing.T) {
	p0 := startProc(t, "p0", nil)
	seed := []string{fmt.Sprintf("127.0.0.1:%d", p0.gossipPort)}
	p1 := startProc(t, "p1", seed)
	p2 := startProc(t, "p2", seed)
	procs := []*proc{p0, p1, p2}

	dial := func(p *proc, opts ...nats.Option) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect(p.url(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// The mesh is up when a message published on each broker reaches a
	// subscriber on every other.
	probe := dial(p0)
	ps, _ := probe.SubscribeSync("probe")
	probe.Flush()
	for _, p := range procs[1:] {
		nc := dial(p)
		eventually(t, 10*time.Second, "route to "+p.name, func() bool {
			nc.Publish("probe", nil)
			_, err := ps.NextMsg(20 * time.Millisecond)
			return err == nil
		})
	}

	// A client on the victim that must move to a survivor, learning the
	// survivors from INFO connect_urls (it was only given the victim's URL).
	reconnected := make(chan string, 1)
	victim := dial(p2, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(nc *nats.Conn) { reconnected <- nc.ConnectedUrl() }))
	eventually(t, 10*time.Second, "connect_urls learned", func() bool { return len(victim.DiscoveredServers()) == 2 })

	// Steady traffic between the survivors, checked for loss and duplicates.
	sub := dial(p1)
	s, _ := sub.SubscribeSync("steady")
	s.SetPendingLimits(-1, -1)
	sub.Flush()
	pub := dial(p0)
	eventually(t, 5*time.Second, "steady interest", func() bool {
		pub.Publish("steady", []byte("warmup"))
		_, err := s.NextMsg(20 * time.Millisecond)
		return err == nil
	})
	for { // drain warm-up messages
		if _, err := s.NextMsg(100 * time.Millisecond); err != nil {
			break
		}
	}
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			pub.Publish("steady", []byte(fmt.Sprint(i)))
			if i == total/3 {
				pub.Flush()
				p2.cmd.Process.Signal(syscall.SIGKILL)
			}
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		pub.Flush()
	}()
	killed := time.Now()
	<-done
	for i := 0; i < total; i++ {
		m, err := s.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d lost: %v", i, err)
		}
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q (duplicate or reordered)", i, m.Data)
		}
	}
	if m, err := s.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("extra message %q", m.Data)
	}

	select {
	case u := <-reconnected:
		t.Logf("victim's client reconnected to %s %v after the kill", u, time.Since(killed))
	case <-time.After(10 * time.Second):
		t.Fatal("victim's client did not reconnect to a survivor")
	}
	for _, p := range []*proc{p0, p1} {
		eventually(t, 10*time.Second, p.name+" declares the victim dead", func() bool {
			return p.logged("member gone, pruning its route")
		})
	}
	t.Logf("survivors declared the killed broker dead %v after SIGKILL", time.Since(killed))
}
