//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// stampedCommit is what the test's build passes with -ldflags, as CI's
// release build does (GOFLAGS has -buildvcs=false here, so the VCS stamp
// is not there to fall back on).
const stampedCommit = "0123456789abcdef0123456789abcdef01234567"

// TestVersionPolicy: INFO and /varz report the nats-server level
// (broker.ServerVersion), Murmur's own version beside it, and the commit
// stamped with -ldflags; the version checks nats.go and the nats CLI make
// let through what Murmur implements and refuse what it does not.
func TestVersionPolicy(t *testing.T) {
	testutil.BrokerBinary(t) // skips under -short, as every process test
	bin := filepath.Join(t.TempDir(), "broker")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/murmurmq/murmur/broker.buildCommit="+stampedCommit, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	short := stampedCommit[:7]

	out, err := exec.Command(bin, "-v").CombinedOutput()
	want := fmt.Sprintf("murmur version %s (nats-server %s level), commit %s, %s\n", broker.Version, broker.ServerVersion, short, runtime.Version())
	if err != nil || string(out) != want {
		t.Fatalf("-v: %v %q, want %q", err, out, want)
	}

	port, httpPort := testutil.FreePort(t), testutil.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-m", fmt.Sprint(httpPort), "--http_addr", "127.0.0.1",
		"--system_user", "sys", "--system_password", "pw")
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("broker log:\n%s", log.String())
		}
	})
	testutil.Eventually(t, 10*time.Second, "the broker to log ready", func() bool { return strings.Contains(log.String(), "murmur broker ready") })

	t.Run("INFO", func(t *testing.T) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "INFO ")), &info); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if info["version"] != broker.ServerVersion || info["murmur_version"] != broker.Version || info["git_commit"] != short {
			t.Errorf("INFO version %v, murmur_version %v, git_commit %v", info["version"], info["murmur_version"], info["git_commit"])
		}
	})

	t.Run("varz", func(t *testing.T) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", httpPort))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v["version"] != broker.ServerVersion || v["murmur_version"] != broker.Version || v["git_commit"] != short {
			t.Errorf("/varz version %v, murmur_version %v, git_commit %v", v["version"], v["murmur_version"], v["git_commit"])
		}
	})

	t.Run("nats.go", func(t *testing.T) {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if v := nc.ConnectedServerVersion(); v != broker.ServerVersion {
			t.Errorf("ConnectedServerVersion %q", v)
		}
		// Key-value is gated on 2.6.2; past the gate, a broker without
		// JetStream answers as nats-server with JetStream off does.
		js, err := nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		_, err = js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "b"})
		if err == nil || strings.Contains(err.Error(), "requires at least server version") || !errors.Is(err, nats.ErrJetStreamNotEnabled) {
			t.Errorf("CreateKeyValue: %v, want %v and no version refusal", err, nats.ErrJetStreamNotEnabled)
		}
	})

	t.Run("nats CLI", func(t *testing.T) {
		cli := testutil.Tool(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
		cfgDir := t.TempDir()
		run := func(args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, cli, append([]string{"--server", url, "--timeout", "3s"}, args...)...)
			cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+cfgDir, "HOME="+cfgDir, "NO_COLOR=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.String(), err
		}
		out, err := run("--user", "sys", "--password", "pw", "server", "info")
		if err != nil || !strings.Contains(out, "Git Commit: "+short) || !strings.Contains(out, "Version: "+broker.ServerVersion) {
			t.Errorf("nats server info: %v\n%s", err, out)
		}
		// `nats account info` asks $SYS.REQ.USER.INFO from 2.10.0 on.
		out, err = run("account", "info", "--trace")
		if err != nil || !strings.Contains(out, ">>> $SYS.REQ.USER.INFO") || !strings.Contains(out, "Connected Server Version: "+broker.ServerVersion) {
			t.Errorf("nats account info: %v\n%s", err, out)
		}
		// Message tracing (2.11) is not implemented: the CLI refuses it by
		// version rather than sending a trace-only message Murmur would
		// deliver (README, "Versions").
		out, err = run("trace", "orders.new")
		if err == nil || !strings.Contains(out, "tracing messages require NATS Server 2.11") {
			t.Errorf("nats trace: %v\n%s", err, out)
		}
	})
}
