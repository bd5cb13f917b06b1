//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
)

// logrotate's way: rename the log file, send SIGUSR1 (here through
// `--signal reopen=<pid file>`), and the broker writes to a fresh file at
// the original path.
func TestLogReopenOnSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	logPath, pidFile := filepath.Join(dir, "murmur.log"), filepath.Join(dir, "murmur.pid")
	port := testutil.FreePort(t)
	cmd := exec.Command(brokerBinary(t), "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-m", "-1", "-l", logPath, "-P", pidFile)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	waitFor(t, "broker ready in the log file", func() bool { return strings.Contains(read(logPath), "murmur broker ready") })
	waitFor(t, "pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })

	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	signalBroker(t, "reopen="+pidFile)
	waitFor(t, "a fresh log file at the original path", func() bool { return strings.Contains(read(logPath), "File log re-opened") })

	// New lines go to the fresh file, none to the renamed one.
	nc := connect(t, fmt.Sprintf("nats://127.0.0.1:%d", port))
	nc.Close()
	signalBroker(t, "reload="+pidFile) // a line the broker logs on demand
	waitFor(t, "the reload line in the fresh file", func() bool { return strings.Contains(read(logPath), "reload: no config file") })
	if old := read(rotated); !strings.Contains(old, "murmur broker ready") || strings.Contains(old, "re-opened") || strings.Contains(old, "reload:") {
		t.Fatalf("the renamed file got lines after the reopen:\n%s", old)
	}
	if info, err := os.Stat(logPath); err != nil || info.Mode().Perm() != logPerms {
		t.Fatalf("fresh file mode %v (%v), want %v", info.Mode().Perm(), err, os.FileMode(logPerms))
	}
	if stderr.String() != "" {
		t.Fatalf("stderr with -l: %q", stderr.String())
	}
}

// -V traces both directions in nats-server's words, with the CONNECT
// password redacted and payloads cut at max_traced_msg_len.
func TestTraceBothDirections(t *testing.T) {
	p := startBroker(t, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-V", "--user", "u", "--pass", "s3cret", "--max_traced_msg_len", "4", "-n", "edge-1")
	nc := connect(t, p.url, nats.UserInfo("u", "s3cret"))
	sub, err := nc.SubscribeSync("orders.new")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("orders.new", []byte("hello world")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`[TRC] 127.0.0.1:`,
		` - cid:`,
		`<<- [CONNECT {"verbose":false,"pedantic":false,"user":"u","pass":"[REDACTED]"`,
		`<<- [SUB orders.new 1]`,
		`<<- [PUB orders.new 11]`,
		`<<- MSG_PAYLOAD: ["hell..."]`,
		`->> [MSG orders.new 1 11]`,
		`->> MSG_PAYLOAD: ["hell..."]`,
		`<<- [PING]`,
		`->> [PONG]`,
	} {
		p.waitLog(t, want)
	}
	log := p.log.String()
	if strings.Contains(log, "s3cret") {
		t.Fatalf("the password reached the log:\n%s", log)
	}
	if strings.Contains(log, "[DBG]") {
		t.Fatalf("-V alone logged debug lines (nats-server's -V is trace only):\n%s", log)
	}
	if !strings.Contains(log, "server=edge-1") || strings.Contains(log, "server=N") {
		t.Fatalf("lines should carry the server's name, not its id:\n%s", log)
	}
}

// Without -V nothing is traced.
func TestNoTraceByDefault(t *testing.T) {
	p := startBroker(t, "-a", "127.0.0.1", "-p", "-1", "-m", "-1")
	nc := connect(t, p.url)
	roundTrip(t, nc, "quiet")
	if strings.Contains(p.log.String(), "[TRC]") {
		t.Fatalf("traced without -V:\n%s", p.log.String())
	}
}
