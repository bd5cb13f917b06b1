//go:build unix

package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
)

func TestSignalSpecRefused(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	os.WriteFile(pidFile, []byte("notapid\n"), 0o644)
	for spec, want := range map[string]string{
		"bogus=1":                       `unknown "bogus"`,
		"reload":                        "reload needs =<pid or pid file>",
		"ldm=/nonexistent/pid":          "neither a pid nor a readable pid file",
		"stop=" + pidFile:               "pid file " + pidFile,
		"quit=0":                        "bad pid 0",
		"reload=" + strconv.Itoa(1<<22): "to pid",
	} {
		_, err := parseFlags([]string{"--signal", spec}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--signal %s: %v, want %q", spec, err, want)
		}
	}
}

func TestMain(m *testing.M) { testutil.LeakCheckMain(m) }

// brokerBinary is the real binary, built once (testutil.BrokerBinary).
var brokerBinary = testutil.BrokerBinary

// proc is a broker running as a real process.
type proc struct {
	cmd  *exec.Cmd
	log  *testutil.SyncBuffer
	done chan error
	url  string
}

var clientAddr = regexp.MustCompile(`listening for clients.* addr=(\S+)`)

func startBroker(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(brokerBinary(t), args...), log: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("broker log:\n%s", p.log.String())
		}
	})
	p.waitLog(t, "murmur broker ready")
	m := clientAddr.FindStringSubmatch(p.log.String())
	if m == nil {
		t.Fatalf("no client address in the log:\n%s", p.log)
	}
	p.url = "nats://" + m[1]
	return p
}

// waitLog waits until the log holds s n times in all.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	p.waitLogN(t, s, 1)
}

func (p *proc) waitLogN(t *testing.T, s string, n int) {
	t.Helper()
	waitFor(t, "log line "+strconv.Quote(s), func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("broker exited (%v) before logging %q", err, s)
		default:
		}
		return strings.Count(p.log.String(), s) >= n
	})
}

// signal runs the binary again as `broker --signal spec`.
func signalBroker(t *testing.T, spec string) {
	t.Helper()
	out, err := exec.Command(brokerBinary(t), "--signal", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("--signal %s: %v: %s", spec, err, out)
	}
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.NoReconnect())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// roundTrip checks that nc still delivers a message to itself.
func roundTrip(t *testing.T, nc *nats.Conn, subject string) {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
}

// A reload after editing the file changes max_payload for new connections
// while old ones stay up; a broken file on reload is logged and the
// running config stays in force; --signal stop through the pid file ends
// the broker.
func TestReloadRealBinary(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "broker.pid")
	conf := writeConf(t, dir, "listen: 127.0.0.1:-1\nhttp_port: 0\nmax_payload: 1MB\n")
	p := startBroker(t, "-c", conf, "-P", pidFile)
	waitFor(t, "pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })

	old := connect(t, p.url)
	if got := old.MaxPayload(); got != 1<<20 {
		t.Fatalf("max_payload before reload: %d", got)
	}

	writeConf(t, dir, "listen: 127.0.0.1:-1\nhttp_port: 0\nmax_payload: 64KB\n")
	signalBroker(t, "reload="+strconv.Itoa(p.cmd.Process.Pid))
	p.waitLog(t, "reload: config applied")
	if got := connect(t, p.url).MaxPayload(); got != 64<<10 {
		t.Fatalf("max_payload on a new connection after reload: %d, want %d", got, 64<<10)
	}
	if !old.IsConnected() {
		t.Fatal("the old connection was dropped by the reload")
	}
	roundTrip(t, old, "after.reload")

	// Broken: an unknown key on line 3. The broker logs why and keeps 64KB.
	writeConf(t, dir, "listen: 127.0.0.1:-1\nmax_payload: 32KB\nbogus_key: 1\n")
	signalBroker(t, "reload="+pidFile)
	p.waitLog(t, "reload: config refused")
	if want := conf + ":3: bogus_key: unknown key"; !strings.Contains(p.log.String(), want) {
		t.Fatalf("the log does not give the reason %q", want)
	}
	nc := connect(t, p.url)
	if got := nc.MaxPayload(); got != 64<<10 {
		t.Fatalf("max_payload after a refused reload: %d, want the running %d", got, 64<<10)
	}
	roundTrip(t, nc, "after.bad.reload")
	roundTrip(t, old, "old.after.bad.reload")

	signalBroker(t, "stop="+pidFile)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("broker exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("broker did not stop")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

// --signal ldm: the broker leaves, tells clients (INFO ldm), closes them
// over the window and exits.
func TestLameDuckRealBinary(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "listen: 127.0.0.1:-1\nhttp_port: 0\nlame_duck_duration: \"500ms\"\nlame_duck_grace_period: \"100ms\"\n")
	p := startBroker(t, "-c", conf)
	ldm := make(chan struct{}, 1)
	closed := make(chan struct{}, 1)
	connect(t, p.url,
		nats.LameDuckModeHandler(func(*nats.Conn) { ldm <- struct{}{} }),
		nats.ClosedHandler(func(*nats.Conn) { closed <- struct{}{} }))
	signalBroker(t, "ldm="+strconv.Itoa(p.cmd.Process.Pid))
	for name, ch := range map[string]chan struct{}{"INFO ldm:true": ldm, "client closed": closed} {
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s", name)
		}
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("broker exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("broker did not exit after lame duck")
	}
	if !strings.Contains(p.log.String(), "lame-duck signal") {
		t.Fatal("no lame-duck log line")
	}
}

// A broken file keeps the broker from starting, naming file, line and key.
func TestBadFileDoesNotStart(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "port: 4222\n\nmax_payload: lots\n")
	out, err := exec.Command(brokerBinary(t), "-c", conf).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output %s", err, out)
	}
	if want := conf + ":3: max_payload: want an integer, got a string"; !strings.Contains(string(out), want) {
		t.Fatalf("output %q does not contain %q", out, want)
	}
}
