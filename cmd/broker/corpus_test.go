package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
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

// The corpus (testdata/corpus) is nats-server's own configuration files,
// from its test suite (server/configs, test/configs: server_*.conf,
// test_*.conf) and its documentation (docs_*.conf), with certificate paths
// pointed at testdata/corpus/certs (nats-server's test certificates).
// nats-server accepts every one; Murmur runs each and does what it asks,
// or refuses the one feature it lacks by name.

const corpusDir = "testdata/corpus"

// TestCorpusNatsServerAccepts: every corpus file passes `nats-server -t`.
func TestCorpusNatsServerAccepts(t *testing.T) {
	ns := testutil.NatsServer(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	if len(files) < 12 {
		t.Fatalf("%d corpus files, want at least 12", len(files))
	}
	for _, f := range files {
		out, err := exec.Command(ns, "-t", "-c", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "is valid") {
			t.Errorf("nats-server -t -c %s: %v\n%s", f, err, out)
		}
	}
}

// corpusRun is one corpus case's brokers, started on free ports that
// replace the fixed ones the files name.
type corpusRun struct {
	procs []*proc
	port  map[int]int // the file's port -> the one used
}

// startCorpus copies files into a temp dir with ports replaced by free
// ones and starts a broker on each, with args.
func startCorpus(t *testing.T, files []string, ports []int, args ...string) *corpusRun {
	t.Helper()
	r := &corpusRun{port: map[int]int{}}
	for _, p := range ports {
		r.port[p] = testutil.FreePort(t)
	}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(corpusDir, f))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for from, to := range r.port {
			re := regexp.MustCompile(`(^|[^0-9])` + strconv.Itoa(from) + `([^0-9]|$)`)
			text = re.ReplaceAllString(text, "${1}"+strconv.Itoa(to)+"${2}")
		}
		path := filepath.Join(dir, f)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		r.procs = append(r.procs, startBroker(t, append([]string{"-c", path}, args...)...))
	}
	return r
}

// url is the client URL of the file's port p.
func (r *corpusRun) url(p int) string { return fmt.Sprintf("nats://127.0.0.1:%d", r.port[p]) }

func corpusTLS(t *testing.T, ca string, client ...string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(corpusDir, "certs", ca))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool}
	if len(client) == 2 {
		c, err := tls.LoadX509KeyPair(filepath.Join(corpusDir, "certs", client[0]), filepath.Join(corpusDir, "certs", client[1]))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg
}

// refusesConnect asserts a connection with opts fails, the error holding want.
func refusesConnect(t *testing.T, url, want string, opts ...nats.Option) {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.NoReconnect(), nats.Timeout(3*time.Second))...)
	if err == nil {
		nc.Close()
		t.Fatalf("connected to %s; want %q", url, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("connect to %s: %v, want %q", url, err, want)
	}
}

// permissionErrs connects with an error handler and returns the
// connection and its async errors.
func permissionErrs(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 8)
	nc := connect(t, url, append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))...)
	return nc, errs
}

func wantViolation(t *testing.T, errs chan error, subject string) {
	t.Helper()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "Permissions Violation") || !strings.Contains(err.Error(), subject) {
			t.Fatalf("async error %v, want a permissions violation for %s", err, subject)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no permissions violation for %s", subject)
	}
}

// crosses waits until a message published on a reaches a subscriber on b.
func crosses(t *testing.T, a, b string) {
	t.Helper()
	sub := connect(t, b)
	s, err := sub.SubscribeSync("corpus.x")
	if err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	pub := connect(t, a)
	waitFor(t, "a message across the route", func() bool {
		pub.Publish("corpus.x", []byte("hi"))
		_, err := s.NextMsg(100 * time.Millisecond)
		return err == nil
	})
}

func TestCorpus(t *testing.T) {
	noMonitor := []string{"-m", "0"}
	cases := []struct {
		name  string
		files []string
		ports []int
		args  []string
		check func(t *testing.T, r *corpusRun)
	}{
		{"listen: a port", []string{"server_listen_port.conf"}, []int{8922}, noMonitor, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(8922)).Close()
		}},
		{"max_payload in INFO", []string{"test_override.conf"}, []int{5224}, noMonitor, func(t *testing.T, r *corpusRun) {
			if got := connect(t, r.url(5224)).MaxPayload(); got != 2222 {
				t.Fatalf("INFO max_payload %d, want 2222", got)
			}
		}},
		{"users and http", []string{"test_multi_user.conf"}, []int{4233, 8233}, nil, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(4233), nats.UserInfo("alice", "foo")).Close()
			connect(t, r.url(4233), nats.UserInfo("bob", "bar")).Close()
			refusesConnect(t, r.url(4233), "Authorization Violation", nats.UserInfo("alice", "wrong"))
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", r.port[8233]))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /varz on http: %v %v", resp, err)
			}
			resp.Body.Close()
		}},
		{"users with a fractional auth timeout", []string{"server_multiple_users.conf"}, []int{4443}, noMonitor, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(4443), nats.UserInfo("bob", "bar")).Close()
			refusesConnect(t, r.url(4443), "Authorization Violation")
		}},
		{"permission variables and default_permissions", []string{"server_authorization.conf"}, []int{4222}, noMonitor, func(t *testing.T, r *corpusRun) {
			// susan has no permissions of her own: default_permissions
			// ($default_user) let her subscribe to PUBLIC.> only.
			nc, errs := permissionErrs(t, r.url(4222), nats.UserInfo("susan", "baz"))
			if _, err := nc.SubscribeSync("PUBLIC.news"); err != nil {
				t.Fatal(err)
			}
			nc.SubscribeSync("private.news")
			wantViolation(t, errs, "private.news")
			// bob ($req_pub_user) publishes to req.foo and req.bar only.
			bob, errs := permissionErrs(t, r.url(4222), nats.UserInfo("bob", "bar"))
			bob.Publish("req.foo", nil)
			bob.Publish("other", nil)
			wantViolation(t, errs, "other")
		}},
		{"allow and deny permissions", []string{"server_new_style_authorization.conf"}, []int{4222}, noMonitor, func(t *testing.T, r *corpusRun) {
			nc, errs := permissionErrs(t, r.url(4222), nats.UserInfo("alice", "foo"))
			nc.Publish("foo", nil)
			nc.Publish("qux", nil)
			wantViolation(t, errs, "qux")
		}},
		{"TLS with a timeout", []string{"server_tls.conf"}, []int{4443}, noMonitor, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(4443), nats.Secure(corpusTLS(t, "server.pem")), nats.UserInfo("derek", "foo")).Close()
			// INFO says tls_required: nats.go upgrades, and without the CA
			// cannot verify the broker.
			refusesConnect(t, r.url(4443), "unknown authority", nats.UserInfo("derek", "foo"))
		}},
		{"TLS cipher_suites", []string{"server_tls_ciphers.conf"}, []int{4443}, noMonitor, func(t *testing.T, r *corpusRun) {
			cfg := corpusTLS(t, "server.pem")
			cfg.MaxVersion = tls.VersionTLS12
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			connect(t, r.url(4443), nats.Secure(cfg), nats.UserInfo("derek", "monkey")).Close()
			cfg = cfg.Clone()
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384} // not in the file's list
			refusesConnect(t, r.url(4443), "handshake failure", nats.Secure(cfg), nats.UserInfo("derek", "monkey"))
		}},
		{"TLS curve_preferences", []string{"server_tls_curve_prefs.conf"}, []int{4443}, noMonitor, func(t *testing.T, r *corpusRun) {
			cfg := corpusTLS(t, "server.pem")
			cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
			connect(t, r.url(4443), nats.Secure(cfg)).Close()
			cfg = cfg.Clone()
			cfg.CurvePreferences = []tls.CurveID{tls.X25519} // not in the file's list
			refusesConnect(t, r.url(4443), "handshake failure", nats.Secure(cfg))
		}},
		{"TLS verify", []string{"test_tlsverify.conf"}, []int{5443}, noMonitor, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(5443), nats.Secure(corpusTLS(t, "ca.pem", "client-cert.pem", "client-key.pem"))).Close()
			// Under TLS 1.3 the client may see the refusal as an alert or
			// as a closed socket; the broker says which.
			refusesConnect(t, r.url(5443), "tls", nats.Secure(corpusTLS(t, "ca.pem")))
			r.procs[0].waitLog(t, "client didn't provide a certificate")
		}},
		{"TLS verify_and_map", []string{"test_tls_cert_id.conf"}, []int{9333}, noMonitor, func(t *testing.T, r *corpusRun) {
			// The certificate's email names the user derek@nats.io, who
			// may publish to foo only; no password is sent.
			nc, errs := permissionErrs(t, r.url(9333), nats.Secure(corpusTLS(t, "ca.pem", "client-id-auth-cert.pem", "client-id-auth-key.pem")))
			nc.Publish("foo", nil)
			nc.Publish("bar", nil)
			wantViolation(t, errs, "bar")
		}},
		{"routes with cluster authorization", []string{"test_srv_a.conf", "test_srv_b.conf"}, []int{5222, 5244, 5224, 5225, 5246}, nil, func(t *testing.T, r *corpusRun) {
			crosses(t, r.url(5222), r.url(5224))
			crosses(t, r.url(5224), r.url(5222))
		}},
		{"routes over TLS", []string{"test_srv_a_tls.conf", "test_srv_b_tls.conf"}, []int{5222, 5244, 5224, 5246}, []string{"-m", "0"}, func(t *testing.T, r *corpusRun) {
			crosses(t, r.url(5222), r.url(5224))
		}},
		{"the Docker image's config", []string{"docs_docker.conf"}, []int{4222, 8222, 6222}, nil, func(t *testing.T, r *corpusRun) {
			connect(t, r.url(4222)).Close()
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port[6222]))
			if err != nil {
				t.Fatalf("cluster port: %v", err)
			}
			c.Close()
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/routez", r.port[8222]))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /routez on monitor_port: %v %v", resp, err)
			}
			resp.Body.Close()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, startCorpus(t, tc.files, tc.ports, tc.args...))
		})
	}
}

// TestCorpusRefused: a file using a feature Murmur lacks stops the broker
// with one line naming the key and why, and nothing else.
func TestCorpusRefused(t *testing.T) {
	cases := map[string]string{
		"docs_gateway.conf": ":4: gateway: not supported by Murmur (gateways between clusters are not built)",
		"server_gwa.conf":   ":2: gateway: not supported by Murmur (gateways between clusters are not built)",
		"docs_mqtt.conf":    ":7: mqtt: not supported by Murmur (MQTT is not built)",
	}
	for f, want := range cases {
		path := filepath.Join(corpusDir, f)
		cmd := exec.Command(brokerBinary(t), "-c", path)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: exit %v, want status 1", f, err)
		}
		if got, want := stderr.String(), "broker: "+path+want+"\n"; got != want || stdout.Len() != 0 {
			t.Errorf("%s:\n stderr %q\n want   %q (stdout %q)", f, got, want, stdout.String())
		}
	}
}
