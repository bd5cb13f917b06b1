package jetstream_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// startBrokerJS runs the broker binary with JetStream on a free port and
// returns its client URL.
func startBrokerJS(t *testing.T) string {
	t.Helper()
	p := testutil.StartBroker(t, "js", "-js", "-sd", t.TempDir())
	testutil.Eventually(t, 10*time.Second, "broker logs JetStream", func() bool { return p.Logged("JetStream enabled") })
	return p.URL()
}

// TestCLIKeyValueAndObjects runs the nats CLI against the broker process:
// kv add, put, get, a kv watch that sees an update, and object put/get.
func TestCLIKeyValueAndObjects(t *testing.T) {
	natsCLI := testutil.Tool(t, "nats", testutil.InstallNatsCLI)
	url := startBrokerJS(t)
	home := t.TempDir() // no contexts of the user's
	run := func(args ...string) string {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, natsCLI, append([]string{"-s", url}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	run("kv", "add", "cfg", "--history", "5")
	run("kv", "put", "cfg", "color", "blue")
	if got := run("kv", "get", "cfg", "color", "--raw"); strings.TrimSpace(got) != "blue" {
		t.Fatalf("kv get: %q", got)
	}

	var watched testutil.SyncBuffer
	wctx, stop := context.WithCancel(context.Background())
	watch := exec.CommandContext(wctx, natsCLI, "-s", url, "kv", "watch", "cfg")
	watch.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	watch.Stdout, watch.Stderr = &watched, &watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); watch.Wait() })
	testutil.Eventually(t, 10*time.Second, "kv watch shows the current value", func() bool { return strings.Contains(watched.String(), "blue") })
	run("kv", "put", "cfg", "color", "green")
	testutil.Eventually(t, 10*time.Second, "kv watch shows the update", func() bool {
		out := watched.String()
		return strings.Contains(out, "green") && strings.Contains(out, "color")
	})

	blob := make([]byte, 600<<10)
	rand.Read(blob)
	in := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(in, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	run("object", "add", "files")
	run("object", "put", "files", in, "--name", "blob", "--chunk-size", "131072", "--no-progress", "-f")
	out := filepath.Join(t.TempDir(), "out.bin")
	run("object", "get", "files", "blob", "-O", out, "--no-progress", "-f")
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("object get: %d bytes, %v", len(got), err)
	}
	if ls := run("object", "ls", "files"); !strings.Contains(ls, "blob") {
		t.Fatalf("object ls: %s", ls)
	}
}
