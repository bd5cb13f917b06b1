//go:build unix

package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestHealthcheckProbe runs `broker --healthcheck` against a running
// broker's monitor, as a container's HEALTHCHECK does: exit 0 when
// /healthz answers 200, exit 1 with the reason otherwise.
func TestHealthcheckProbe(t *testing.T) {
	port := testutil.FreePort(t)
	startBroker(t, "-a", "127.0.0.1", "-p", "-1", "--http_addr", "127.0.0.1", "-m", strconv.Itoa(port))
	probe := func(target string) (string, error) {
		out, err := exec.Command(brokerBinary(t), "--healthcheck", target).CombinedOutput()
		return string(out), err
	}
	for _, target := range []string{
		"http://127.0.0.1:" + strconv.Itoa(port) + "/healthz",
		"127.0.0.1:" + strconv.Itoa(port), // a bare host:port means its /healthz
	} {
		if out, err := probe(target); err != nil {
			t.Errorf("--healthcheck %s: %v: %s", target, err, out)
		}
	}

	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		http.Error(w, `{"status":"unavailable","error":"lame duck"}`, http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	closed := testutil.FreePort(t)
	for target, want := range map[string]string{
		unhealthy.URL:                       "503 Service Unavailable: {\"status\":\"unavailable\",\"error\":\"lame duck\"}",
		"127.0.0.1:" + strconv.Itoa(closed): "connection refused",
		"ftp://127.0.0.1/healthz":           "want an http:// or https:// URL",
		"http:///healthz":                   "no host",
	} {
		out, err := probe(target)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("--healthcheck %s: %v, want exit status 1", target, err)
		}
		if !strings.Contains(out, want) {
			t.Errorf("--healthcheck %s: %q, want %q", target, out, want)
		}
	}
}
