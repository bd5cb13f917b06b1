package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/murmurmq/murmur/gossip"
)

// FastGossip is the LAN profile with quicker probes and rounds, so failure
// detection (a dead member within about 3 s) and re-joins fit in test time.
// It binds 127.0.0.1 on a free port.
func FastGossip() gossip.Config {
	g := gossip.DefaultConfig()
	g.BindAddr = "127.0.0.1"
	g.BindPort = 0
	g.Profile = gossip.ProfileLAN
	g.Timing.ProbeInterval = 500 * time.Millisecond
	g.Timing.ProbeTimeout = 250 * time.Millisecond
	g.Timing.GossipInterval = 100 * time.Millisecond
	g.Timing.PushPullInterval = 2 * time.Second
	g.RejoinInterval = time.Second
	g.JoinBackoffMin = 50 * time.Millisecond
	g.JoinBackoffMax = 500 * time.Millisecond
	return g
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// BrokerBinary builds cmd/broker once per test binary and returns its path.
// It skips the test under -short.
func BrokerBinary(t testing.TB) string {
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
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(here), "..", "..")
		binPath = filepath.Join(dir, "broker")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/broker")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// removeBinary deletes what BrokerBinary built (LeakCheckMain calls it).
func removeBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// FreePort returns a port free for both TCP and UDP on 127.0.0.1 (gossip
// needs both).
func FreePort(t testing.TB) int {
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
			if handOut(port) {
				return port
			}
		}
	}
	t.Fatal("no free port")
	return 0
}

var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// handOut records port as given to a caller and reports whether it was new:
// the kernel may offer a port again as soon as its probe closes, and two
// callers in one process must not get the same one.
func handOut(port int) bool {
	handedMu.Lock()
	defer handedMu.Unlock()
	if handed[port] {
		return false
	}
	handed[port] = true
	return true
}

// Proc is one broker running as a separate process of the real binary, so
// a test can kill it with SIGKILL.
type Proc struct {
	Name       string
	Cmd        *exec.Cmd
	ClientPort int
	GossipPort int // 0 when not clustered
	QUICPort   int // 0 without a QUIC listener

	mu  sync.Mutex
	log bytes.Buffer
}

// Write collects the process's output (it is the process's stdout/stderr).
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Logged reports whether the process has logged s.
func (p *Proc) Logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Contains(p.log.String(), s)
}

// URL is the process's client URL.
func (p *Proc) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.ClientPort) }

// GossipAddr is where other brokers join this one.
func (p *Proc) GossipAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.GossipPort) }

// QUICURL is the process's QUIC client URL (its port is UDP).
func (p *Proc) QUICURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.QUICPort) }

// fingerprintRE matches the line a broker logs for a self-signed QUIC
// certificate (cmd/broker logQUIC).
var fingerprintRE = regexp.MustCompile(`sha256_fingerprint=([0-9a-f]{64})`)

// Fingerprint is the SHA-256 fingerprint of the self-signed QUIC
// certificate the process logged, or "" if it has logged none.
func (p *Proc) Fingerprint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := fingerprintRE.FindStringSubmatch(p.log.String()); m != nil {
		return m[1]
	}
	return ""
}

// StartProc starts a broker process in cluster clusterName joined to seeds,
// waits until it accepts clients, and kills it at cleanup (printing its log
// if the test failed).
func StartProc(t testing.TB, name, clusterName string, seeds []string) *Proc {
	t.Helper()
	gossipPort := FreePort(t)
	args := []string{
		// An explicit route port: one the kernel picked for :0 could be
		// the gossip port just probed free (both listen on TCP).
		"--cluster", fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "--cluster_name", clusterName,
		"--gossip_addr", "127.0.0.1", "--gossip_port", fmt.Sprint(gossipPort),
	}
	if len(seeds) > 0 {
		args = append(args, "--gossip_seeds", strings.Join(seeds, ","))
	}
	p := startProc(t, name, args...)
	p.GossipPort = gossipPort
	return p
}

// StartQUICProc starts an unclustered broker process that listens on TCP
// and on QUIC with a self-signed certificate of its own making, and waits
// until it has logged that certificate's fingerprint (it is up by then).
// extra are more command-line flags.
func StartQUICProc(t testing.TB, name string, extra ...string) *Proc {
	t.Helper()
	quicPort := FreePort(t)
	p := startProc(t, name, append([]string{"--quic_port", fmt.Sprint(quicPort)}, extra...)...)
	p.QUICPort = quicPort
	Eventually(t, 10*time.Second, name+" QUIC fingerprint logged", func() bool { return p.Fingerprint() != "" })
	return p
}

// StartBroker starts an unclustered broker process named name with extra
// flags, waits until it accepts clients, and kills it at cleanup.
func StartBroker(t testing.TB, name string, extra ...string) *Proc {
	t.Helper()
	return startProc(t, name, extra...)
}

// startProc runs the broker binary on a free client port with args added,
// and waits until it accepts TCP clients.
func startProc(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, ClientPort: FreePort(t)}
	args = append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(p.ClientPort), "-n", name, "-m", "-1"}, args...)
	p.Cmd = exec.Command(BrokerBinary(t), args...)
	p.Cmd.Stdout, p.Cmd.Stderr = p, p
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		p.Cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("--- log of %s ---\n%s", p.Name, p.log.String())
			p.mu.Unlock()
		}
	})
	Eventually(t, 10*time.Second, name+" listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.ClientPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}
