//go:build unix

package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
)

var (
	monitorAddrRE = regexp.MustCompile(`monitoring on http.* addr=(\S+)`)
	profURLRE     = regexp.MustCompile(`profiling on http.* url=(\S+)`)
)

// httpGet fetches url, with basic auth when user is set, and returns the
// status and body.
func httpGet(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMonitorOpsRealBinary: the monitor listens on 127.0.0.1 unless told
// otherwise, asks for the configured credentials on every path but
// /healthz, serves /stacksz, and --profile serves pprof on its own port
// behind the same credentials.
func TestMonitorOpsRealBinary(t *testing.T) {
	p := startBroker(t, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--http_user", "ops", "--http_password", "pw", "--profile", "-1")
	p.waitLog(t, "profiling on http")
	m := monitorAddrRE.FindStringSubmatch(p.log.String())
	if m == nil || !strings.HasPrefix(m[1], "127.0.0.1:") {
		t.Fatalf("monitor address %v, want 127.0.0.1 by default", m)
	}
	base := "http://" + m[1]
	if code, _ := httpGet(t, base+"/varz", "", ""); code != 401 {
		t.Errorf("/varz without credentials: %d, want 401", code)
	}
	if code, _ := httpGet(t, base+"/varz", "ops", "nope"); code != 401 {
		t.Errorf("/varz with a wrong password: %d, want 401", code)
	}
	if code, body := httpGet(t, base+"/varz", "ops", "pw"); code != 200 || !strings.Contains(body, `"server_id"`) {
		t.Errorf("/varz with credentials: %d %.200s", code, body)
	}
	if code, _ := httpGet(t, base+"/healthz", "", ""); code != 200 {
		t.Errorf("/healthz without credentials: %d, want 200", code)
	}
	if code, body := httpGet(t, base+"/stacksz", "ops", "pw"); code != 200 || !strings.HasPrefix(body, "goroutine ") || !strings.Contains(body, "main.main") {
		t.Errorf("/stacksz: %d %.300s", code, body)
	}

	pm := profURLRE.FindStringSubmatch(p.log.String())
	if pm == nil || !strings.HasPrefix(pm[1], "http://127.0.0.1:") || !strings.HasSuffix(pm[1], "/debug/pprof/") {
		t.Fatalf("profiling URL %v", pm)
	}
	if code, _ := httpGet(t, pm[1], "", ""); code != 401 {
		t.Errorf("pprof without credentials: %d, want 401", code)
	}
	if code, body := httpGet(t, pm[1], "ops", "pw"); code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
		t.Errorf("pprof index: %d %.300s", code, body)
	}
	if code, body := httpGet(t, pm[1]+"goroutine?debug=1", "ops", "pw"); code != 200 || !strings.Contains(body, "goroutine profile: total") {
		t.Errorf("pprof goroutine profile: %d %.300s", code, body)
	}
	if code, body := httpGet(t, pm[1]+"heap", "ops", "pw"); code != 200 || len(body) == 0 {
		t.Errorf("pprof heap profile: %d, %d bytes", code, len(body))
	}
}

// TestMonitorOpsConfig: prof_port and http_auth in the file, and their
// errors with file:line.
func TestMonitorOpsConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConf(t, dir, "http: 127.0.0.1:8333\nprof_port: 6060\nhttp_auth { token: t0k }\n")
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.monitor.auth(); cfg.monitor.profPort != 6060 || a == nil || a.Token != "t0k" || a.User != "" {
		t.Fatalf("prof_port %d, auth %+v", cfg.monitor.profPort, a)
	}
	if cfg, err = parseFlags(nil, io.Discard); err != nil || cfg.monitor.httpAddr != "127.0.0.1" || cfg.monitor.auth() != nil || cfg.monitor.profPort != 0 {
		t.Fatalf("defaults: %v %+v", err, cfg.monitor)
	}
	for conf, want := range map[string]string{
		"http_auth { user: ops }\n":                  ".conf:1: http_auth: user set without password",
		"\nhttp_auth { password: x }\n":              ".conf:2: http_auth: password set without user",
		"http_auth {}\n":                             ".conf:1: http_auth: want user and password, or token",
		"http_auth { user: a, password: b, x: 1 }\n": "http_auth.x: unknown key",
		"prof_port: 70000\n":                         "prof_port",
	} {
		_, err := parseFlags([]string{"-c", writeConf(t, dir, conf)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", conf, err, want)
		}
	}
	for _, args := range [][]string{{"--http_user", "u"}, {"--http_password", "p"}, {"--profile", "-2"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestGossipKeygen: `broker --gossip_keygen` prints one fresh key that
// --gossip_key takes, and exits 0; a clustered broker without a key warns
// once at start, one with a key does not.
func TestGossipKeygen(t *testing.T) {
	var keys []string
	for range 2 {
		out, err := exec.Command(brokerBinary(t), "--gossip_keygen").Output()
		if err != nil {
			t.Fatalf("--gossip_keygen: %v", err)
		}
		k := strings.TrimSuffix(string(out), "\n")
		if raw, err := base64.StdEncoding.DecodeString(k); err != nil || len(raw) != 32 || strings.Contains(k, "\n") {
			t.Fatalf("--gossip_keygen printed %q: %d bytes, %v", out, len(raw), err)
		}
		keys = append(keys, k)
	}
	if keys[0] == keys[1] {
		t.Fatal("two runs printed the same key")
	}
	if _, err := parseFlags([]string{"--cluster", "127.0.0.1:0", "--gossip_key", keys[0]}, io.Discard); err != nil {
		t.Fatalf("--gossip_key with a generated key: %v", err)
	}
	var out bytes.Buffer
	if err := run([]string{"--gossip_keygen"}, &out, io.Discard); err != nil || out.Len() != 45 {
		t.Fatalf("run --gossip_keygen: %v, %q", err, out.String())
	}

	const warning = "gossip is not encrypted"
	plain := startBroker(t, "-a", "127.0.0.1", "-p", "-1", "-m", "0", "--cluster", "127.0.0.1:0", "--gossip_addr", "127.0.0.1", "--gossip_port", "0")
	if n := strings.Count(plain.log.String(), warning); n != 1 {
		t.Errorf("unencrypted gossip warned %d times, want once:\n%s", n, plain.log)
	}
	keyed := startBroker(t, "-a", "127.0.0.1", "-p", "-1", "-m", "0", "--cluster", "127.0.0.1:0", "--gossip_addr", "127.0.0.1", "--gossip_port", "0", "--gossip_key", keys[1])
	if strings.Contains(keyed.log.String(), warning) {
		t.Errorf("encrypted gossip warned:\n%s", keyed.log)
	}
}

// TestQUICCertKept: a broker given quic cert_file/key_file that do not
// exist generates and saves a pair; restarted on the same paths it serves
// the same certificate, so a client pinned to the first fingerprint
// connects after the restart.
func TestQUICCertKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "quic")
	args := []string{"--quic_cert", filepath.Join(dir, "cert.pem"), "--quic_key", filepath.Join(dir, "key.pem")}
	first := testutil.StartQUICProc(t, "q1", args...)
	fp := first.Fingerprint()
	if !first.Logged("generated a self-signed certificate and saved it") {
		t.Fatal("first start did not say it saved the certificate")
	}
	first.Cmd.Process.Kill()
	first.Cmd.Wait()

	second := testutil.StartQUICProc(t, "q2", args...)
	if second.Fingerprint() != fp {
		t.Fatalf("fingerprint %s after restart, was %s", second.Fingerprint(), fp)
	}
	if second.Logged("generated a self-signed certificate") {
		t.Fatal("second start generated a new certificate")
	}
	dc := quic.DefaultDialConfig()
	dc.Fingerprint = fp
	d, err := quic.NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}
	nc := connect(t, second.QUICURL(), nats.SetCustomDialer(d))
	roundTrip(t, nc, "kept.cert")
}
