//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// varzOnly are the /varz keys one side has and the other does not, with why.
var varzOnly = map[string]string{
	"murmur_version":  "Murmur only: its own release beside the nats-server level",
	"transports":      "Murmur only: each client transport's bound address",
	"members":         "Murmur only: live gossip members",
	"connect_urls":    "Murmur lists its own client URL from the start; nats-server once a peer's arrive",
	"ws_connect_urls": "as connect_urls, for WebSocket",
	"feature_flags":   "nats-server's JetStream feature flags; Murmur has no JetStream",
}

// varzNestedOnly are keys of nested blocks one side has, with why.
var varzNestedOnly = map[string]string{
	"websocket.handshake_timeout": "Murmur reports the timeout in force (2 s by default); nats-server only a configured one",
}

// varzSame are the values both report alike for the same configuration.
var varzSame = []string{
	"proto", "host", "port", "auth_required", "max_connections", "ping_interval", "ping_max",
	"http_host", "http_port", "http_base_path", "https_port", "auth_timeout", "max_control_line",
	"max_payload", "max_pending", "gateway", "leaf", "mqtt", "jetstream", "tls_timeout",
	"write_deadline", "connections", "routes", "remotes", "leafnodes", "system_account",
	"disk_io_wait_stats", "slow_consumer_stats", "stale_connection_stats",
}

const varzConf = `listen: 127.0.0.1:%d
http: 127.0.0.1:%d
server_name: side
max_payload: %s
authorization { users = [ {user: a, password: b} ] }
cluster { name: c1, listen: 127.0.0.1:%d }
websocket { port: %d, no_tls: true, compression: true }
`

// varzProc is one binary running varzConf.
type varzProc struct {
	conf, http string
	cmd        *exec.Cmd
}

func startVarz(t *testing.T, bin string, extra ...string) *varzProc {
	t.Helper()
	httpPort := testutil.FreePort(t)
	p := &varzProc{conf: filepath.Join(t.TempDir(), "varz.conf"), http: fmt.Sprintf("http://127.0.0.1:%d/varz", httpPort)}
	text := fmt.Sprintf(varzConf, testutil.FreePort(t), httpPort, "2MB", testutil.FreePort(t), testutil.FreePort(t))
	if err := os.WriteFile(p.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"-c", p.conf}, extra...)...)
	var log testutil.SyncBuffer
	p.cmd.Stdout, p.cmd.Stderr = &log, &log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), log.String())
		}
	})
	testutil.Eventually(t, 10*time.Second, filepath.Base(bin)+" /varz", func() bool {
		_, err := p.varz()
		return err == nil
	})
	return p
}

func (p *varzProc) varz() (map[string]any, error) {
	resp, err := http.Get(p.http)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v map[string]any
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// TestVarzMatchesNatsServer: for the same configuration, our /varz has
// nats-server 2.15's keys, in its nested blocks too, and its values where
// the two must agree; the differences are listed in varzOnly.
func TestVarzMatchesNatsServer(t *testing.T) {
	ours := startVarz(t, testutil.BrokerBinary(t), "--gossip_port", "0")
	theirs := startVarz(t, testutil.NatsServer(t))
	a, err := ours.varz()
	if err != nil {
		t.Fatal(err)
	}
	b, err := theirs.varz()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keyDiff(a, b) {
		if varzOnly[k] == "" {
			t.Errorf("/varz key %q only in murmur", k)
		}
	}
	for _, k := range keyDiff(b, a) {
		if varzOnly[k] == "" {
			t.Errorf("/varz key %q only in nats-server", k)
		}
	}
	for k, va := range a {
		nested, ok := va.(map[string]any)
		if !ok || k == "http_req_stats" || varzOnly[k] != "" { // http_req_stats is keyed by endpoint: data, not shape
			continue
		}
		nb, _ := b[k].(map[string]any)
		for _, d := range append(keyDiff(nested, nb), keyDiff(nb, nested)...) {
			if varzNestedOnly[k+"."+d] == "" {
				t.Errorf("/varz %s.%s on one side only\nmurmur %v\nnats-server %v", k, d, nested, nb)
			}
		}
	}
	// The ports differ by construction; everything else must agree.
	for _, k := range []string{"port", "http_port"} {
		delete(a, k)
		delete(b, k)
	}
	for _, k := range varzSame {
		if !reflect.DeepEqual(a[k], b[k]) {
			t.Errorf("/varz %s: murmur %v, nats-server %v", k, a[k], b[k])
		}
	}
	aws, bws := a["websocket"].(map[string]any), b["websocket"].(map[string]any)
	// (Murmur's WebSocket host defaults to the client host, nats-server's to 0.0.0.0.)
	for _, k := range []string{"no_tls", "compression"} {
		if !reflect.DeepEqual(aws[k], bws[k]) {
			t.Errorf("/varz websocket.%s: murmur %v, nats-server %v", k, aws[k], bws[k])
		}
	}
	if ac, bc := a["cluster"].(map[string]any), b["cluster"].(map[string]any); ac["name"] != bc["name"] || ac["addr"] != bc["addr"] {
		t.Errorf("/varz cluster: murmur %v, nats-server %v", ac, bc)
	}
}

// TestVarzConfigReload: a reload (SIGHUP) moves config_load_time and
// config_digest, and /varz shows the new settings.
func TestVarzConfigReload(t *testing.T) {
	p := startVarz(t, testutil.BrokerBinary(t), "--gossip_port", "0")
	before, err := p.varz()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := before["config_digest"].(string); !strings.HasPrefix(d, "sha256:") || before["config_load_time"] != before["start"] {
		t.Fatalf("before: config_digest %v, config_load_time %v, start %v", before["config_digest"], before["config_load_time"], before["start"])
	}
	text, err := os.ReadFile(p.conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.conf, []byte(strings.Replace(string(text), "max_payload: 2MB", "max_payload: 3MB", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var after map[string]any
	testutil.Eventually(t, 10*time.Second, "the reload in /varz", func() bool {
		after, err = p.varz()
		return err == nil && after["max_payload"] == float64(3<<20)
	})
	t1, _ := time.Parse(time.RFC3339Nano, before["config_load_time"].(string))
	t2, _ := time.Parse(time.RFC3339Nano, after["config_load_time"].(string))
	if !t2.After(t1) || after["config_digest"] == before["config_digest"] || after["start"] != before["start"] {
		t.Errorf("after reload: config_load_time %v -> %v, config_digest %v -> %v, start %v -> %v",
			before["config_load_time"], after["config_load_time"], before["config_digest"], after["config_digest"], before["start"], after["start"])
	}
}

// keyDiff are a's keys that b lacks, sorted.
func keyDiff(a, b map[string]any) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
