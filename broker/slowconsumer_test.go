//go:build linux

package broker_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// countingSub subscribes a nats.go client to subject with no client-side
// pending limit and counts what it receives.
func countingSub(t *testing.T, srv *broker.Server, subject string) *atomic.Int64 {
	t.Helper()
	nc := connect(t, srv, &transportCases[0])
	var got atomic.Int64
	sub, err := nc.Subscribe(subject, func(*nats.Msg) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &got
}

// dialStalled opens a raw client with a tiny receive buffer that will never
// read: the broker's writes to it block as soon as the kernel buffers fill.
func dialStalled(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: rawWait, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestStalledSubscriberCutAtMaxPending: a subscriber that stops reading is
// closed as a slow consumer as soon as its backlog passes max_pending (the
// write deadline here is a minute away), and the healthy subscribers of the
// same publisher receive every message meanwhile. It used to throttle the
// publisher to one message per 5 ms until the write deadline cut it.
func TestStalledSubscriberCutAtMaxPending(t *testing.T) {
	o := testOptions()
	o.MaxPayload = 64 << 10
	o.MaxPending = 8 << 20
	o.WriteDeadline = time.Minute
	srv := startServer(t, o, nil)
	addr := srv.Addrs()["tcp"].String()

	const n = 30000 // 30 MB: past max_pending plus what the kernel buffers
	got := [2]*atomic.Int64{countingSub(t, srv, "feed"), countingSub(t, srv, "feed")}
	pub := connect(t, srv, &transportCases[0])
	payload := make([]byte, 1024)
	sent := int64(0)
	// publish sends n messages, keeping the healthy subscribers within
	// 1 MB (nats.go under the race detector reads slower than the
	// publisher writes) so that they never reach their own max_pending,
	// and returns how long it took.
	publish := func() time.Duration {
		start := time.Now()
		for i := range n {
			pub.Publish("feed", payload)
			sent++
			if i%200 == 199 {
				for k := range got {
					eventually(t, 10*time.Second, "healthy subscriber keeping up", func() bool { return got[k].Load() > sent-1000 })
				}
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	before := publish()

	stalled := dialStalled(t, addr)
	r := bufio.NewReader(stalled)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	fmt.Fprintf(stalled, "CONNECT %s\r\nSUB feed 1\r\nPING\r\n", quietConnect)
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("stalled subscriber handshake: %q %v", line, err)
	}
	during := publish()
	eventually(t, 10*time.Second, "the stalled subscriber closed as a slow consumer", func() bool {
		return srv.Stats().SlowConsumers == 1
	})
	t.Logf("%d messages took %v before the stall, %v with a stalled subscriber", n, before, during)
	// Not a performance figure (bench/ has that): a publisher held back
	// per message by the stalled subscriber takes many times longer (12 s
	// against 0.5 s when this test was written); the bound is loose.
	if during > 8*before+2*time.Second {
		t.Errorf("the stalled subscriber held the publisher back: %v against %v without it", during, before)
	}
	for _, cc := range srv.ClosedConnections() {
		if cc.Reason != broker.SlowConsumerPendingBytes.String() {
			t.Errorf("closed connection %d: reason %q, want %q", cc.CID, cc.Reason, broker.SlowConsumerPendingBytes)
		}
	}
	for k := range got {
		eventually(t, 10*time.Second, "every message at the healthy subscribers", func() bool { return got[k].Load() == 2*n })
	}
}

// TestPingFloodBounded: eight clients that send PINGs and never read are
// each closed as slow consumers at max_pending, and the broker's RSS stays
// within 8 x max_pending + 64 MiB. PONGs used to queue without a limit
// until the write deadline (600 MB for one client in 4 s).
func TestPingFloodBounded(t *testing.T) {
	bin := testutil.BrokerBinary(t)
	port, http := testutil.FreePort(t), testutil.FreePort(t)
	const maxPending = 2 << 20
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(http), "--http_addr", "127.0.0.1",
		"--max_payload", "65536", "--max_pending", strconv.Itoa(maxPending), "--write_deadline", "60s")
	var log strings.Builder
	var logMu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(b) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("broker log:\n%s", log.String())
			logMu.Unlock()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 10*time.Second, "broker listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	base := rssOf(t, cmd.Process.Pid)

	const clients = 8
	pings := []byte(strings.Repeat("PING\r\n", 10000))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range clients {
		c := dialStalled(t, addr)
		fmt.Fprintf(c, "CONNECT %s\r\n", quietConnect)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(pings); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue // the broker stopped reading us: keep trying until it closes
					}
					return // closed by the broker
				}
			}
		}()
	}
	limit := int64(clients*maxPending + 64<<20)
	peak := int64(0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rss := rssOf(t, cmd.Process.Pid)
		peak = max(peak, rss)
		if rss > limit {
			close(stop)
			wg.Wait()
			t.Fatalf("broker RSS %d MiB (started at %d MiB) exceeds %d MiB", rss>>20, base>>20, limit>>20)
		}
		logMu.Lock()
		cut := strings.Count(log.String(), "slow consumer detected")
		logMu.Unlock()
		if cut >= clients {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("%d of %d flooding clients cut after 20 s", cut, clients)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	// The kernel's high-water mark catches a peak the sampling missed.
	if hwm := statusKB(t, cmd.Process.Pid, "VmHWM:"); hwm > limit {
		t.Fatalf("broker peak RSS %d MiB exceeds %d MiB", hwm>>20, limit>>20)
	}
	t.Logf("all %d flooding clients cut; broker RSS peaked at %d MiB (from %d MiB, limit %d MiB)", clients, peak>>20, base>>20, limit>>20)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// rssOf reads VmRSS of a process, in bytes.
func rssOf(t *testing.T, pid int) int64 { return statusKB(t, pid, "VmRSS:") }

// statusKB reads a kB field of /proc/<pid>/status, in bytes.
func statusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no " + field)
	return 0
}

// TestBurstPacedToReader: a nats.go subscriber that reads steadily but
// slower than a flooding publisher is paced through a burst many times
// max_pending (the publisher waits while the subscriber reads), not cut as
// a slow consumer. (It was cut when the writer wrote a large backlog in one
// write: no progress showed until all of it was written.)
func TestBurstPacedToReader(t *testing.T) {
	// Pacing waits for a reader only while it shows progress within a few
	// milliseconds; a CI machine that starves the subscriber's goroutine
	// for longer makes it look stalled. Without pacing every attempt is
	// cut, so passing one of six still catches a regression. (Three were
	// all cut once on a CI run with every package's tests at once on 2
	// cores: 17,149-26,383 of 40,000 delivered; alone it passes first
	// time.)
	const attempts = 6
	for i := range attempts {
		got, sc, stalls := pacedBurst(t)
		if got == burstMsgs && sc == 0 {
			// Pacing held the publisher back stalls times (/varz
			// stalled_clients); none when the reader kept up by itself.
			t.Logf("attempt %d: all delivered, publisher held back %d times", i+1, stalls)
			return
		}
		t.Logf("attempt %d: subscriber got %d of %d; slow consumers %d", i+1, got, burstMsgs, sc)
	}
	t.Fatalf("the burst was cut in all %d attempts", attempts)
}

const burstMsgs = 40000 // 40 MB of 1 KB messages: ten times max_pending

// pacedBurst floods one subscriber on a fresh broker and reports what it
// got, how many slow consumers the broker cut and how often it held the
// publisher back.
func pacedBurst(t *testing.T) (got, slow, stalls int64) {
	o := testOptions()
	o.MaxPayload = 64 << 10
	o.MaxPending = 4 << 20
	srv := startServer(t, o, nil)
	defer srv.Close()
	n := countingSub(t, srv, "feed")
	pub := connect(t, srv, &transportCases[0])
	payload := make([]byte, 1024)
	for range burstMsgs {
		pub.Publish("feed", payload)
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "every message delivered", func() bool {
		return n.Load() == burstMsgs || srv.Stats().SlowConsumers > 0
	})
	st := srv.Stats()
	return n.Load(), st.SlowConsumers, st.Stalls
}

// TestSlowConsumerCountedInAccount: a client closed as a slow consumer is
// counted in its account's totals as well as the server's.
func TestSlowConsumerCountedInAccount(t *testing.T) {
	o := testOptions()
	o.Auth = accountsAuth()
	o.MaxPayload = 64 << 10
	o.MaxPending = 256 << 10
	srv := startServer(t, o, nil)
	stalled := dialStalled(t, srv.Addrs()["tcp"].String())
	r := bufio.NewReader(stalled)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	fmt.Fprintf(stalled, `CONNECT {"verbose":false,"pedantic":false,"user":"bob","pass":"b"}`+"\r\nSUB feed 1\r\nPING\r\n")
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("stalled subscriber handshake: %q %v", line, err)
	}
	pub := login(t, srv, "bob", "b")
	payload := make([]byte, 1024)
	deadline := time.Now().Add(20 * time.Second)
	for srv.Stats().SlowConsumers == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled subscriber was not cut within 20 s")
		}
		for range 100 {
			pub.Publish("feed", payload)
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int64{}
	for _, a := range srv.Accounts() {
		got[a.Name] = a.SlowConsumers
	}
	if got["B"] != 1 || got["A"] != 0 || got[broker.GlobalAccount] != 0 {
		t.Fatalf("slow consumers per account: %v, want B: 1", got)
	}
}
