package monitor_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/murmurmq/murmur/monitor"
)

// TestDefaultHostLoopback: without a Host the monitor listens on
// 127.0.0.1 only.
func TestDefaultHostLoopback(t *testing.T) {
	srv := startBroker(t, "loopback")
	m, err := monitor.New(monitor.Config{Broker: srv, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, ok := m.Addr().(*net.TCPAddr)
	if !ok || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("monitor bound %v, want 127.0.0.1", m.Addr())
	}
}

// TestMonitorAuth: with credentials configured every path but /healthz
// answers 401 with a challenge until the request carries them; basic auth
// (plain or bcrypt password) and a bearer token each work.
func TestMonitorAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	srv := startBroker(t, "auth")
	for _, tc := range []struct {
		name      string
		auth      monitor.Auth
		challenge string
	}{
		{"plain", monitor.Auth{User: "ops", Password: "s3cret", Token: "tok-123"}, "Basic"},
		{"bcrypt", monitor.Auth{User: "ops", Password: string(hash)}, "Basic"},
		{"token only", monitor.Auth{Token: "tok-123"}, "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			m := startMonitor(t, srv, monitor.Config{Auth: &auth})
			c := client(t)
			do := func(path string, set func(*http.Request)) *http.Response {
				req, _ := http.NewRequest("GET", "http://"+m.Addr().String()+path, nil)
				if set != nil {
					set(req)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			for _, path := range []string{"/", "/varz", "/connz", "/stacksz", "/metrics", "/nope"} {
				resp := do(path, nil)
				if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tc.challenge) {
					t.Errorf("GET %s without credentials: %d %q, want 401 %s", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.challenge)
				}
				if resp := do(path, func(r *http.Request) { r.SetBasicAuth("ops", "wrong") }); resp.StatusCode != 401 {
					t.Errorf("GET %s with a wrong password: %d", path, resp.StatusCode)
				}
				if resp := do(path, func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong") }); resp.StatusCode != 401 {
					t.Errorf("GET %s with a wrong token: %d", path, resp.StatusCode)
				}
			}
			if resp := do("/healthz", nil); resp.StatusCode != 200 {
				t.Errorf("/healthz without credentials: %d, want 200 (probes need no credentials)", resp.StatusCode)
			}
			good := func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-123") }
			if auth.User != "" {
				good = func(r *http.Request) { r.SetBasicAuth("ops", "s3cret") }
			}
			for _, path := range []string{"/", "/varz", "/stacksz"} {
				if resp := do(path, good); resp.StatusCode != 200 {
					t.Errorf("GET %s with credentials: %d", path, resp.StatusCode)
				}
			}
			if auth.User != "" && auth.Token != "" {
				if resp := do("/varz", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-123") }); resp.StatusCode != 200 {
					t.Errorf("token beside basic auth: %d", resp.StatusCode)
				}
			}
		})
	}
}

func TestMonitorAuthValidation(t *testing.T) {
	srv := startBroker(t, "auth-bad")
	for _, a := range []monitor.Auth{{User: "ops"}, {Password: "x"}} {
		if _, err := monitor.New(monitor.Config{Broker: srv, Auth: &a}); err == nil || !strings.Contains(err.Error(), "monitor auth") {
			t.Errorf("%+v: %v, want a monitor auth error", a, err)
		}
	}
}
