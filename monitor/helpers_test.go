package monitor_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/monitor"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testOptions are broker defaults on loopback with a random port, and
// the system user sys/pass (clients sending no credentials land in $G).
func testOptions() broker.Options {
	o := broker.DefaultOptions()
	o.Host = "127.0.0.1"
	o.Port = -1
	o.Auth = &broker.AuthOptions{System: &broker.User{Name: "sys", Password: "pass"}}
	return o
}

// connectSys connects to srv as the system user.
func connectSys(t testing.TB, srv *broker.Server) *nats.Conn {
	t.Helper()
	return connect(t, srv, nats.UserInfo("sys", "pass"))
}

// newBroker creates (not starts) a broker, closed at cleanup.
func newBroker(t testing.TB, name string) *broker.Server {
	t.Helper()
	o := testOptions()
	o.Name = name
	return newBrokerWith(t, o)
}

// newBrokerWith creates a broker with o, closed at cleanup.
func newBrokerWith(t testing.TB, o broker.Options) *broker.Server {
	t.Helper()
	srv, err := broker.New(o)
	if err != nil {
		t.Fatalf("new broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// startBroker creates and starts a broker.
func startBroker(t testing.TB, name string) *broker.Server {
	t.Helper()
	return started(t, newBroker(t, name))
}

// started starts srv.
func started(t testing.TB, srv *broker.Server) *broker.Server {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return srv
}

// startMonitor serves srv on a random loopback port; cfg fields other
// than Broker, Host and Port are kept.
func startMonitor(t testing.TB, srv monitor.Broker, cfg monitor.Config) *monitor.Server {
	t.Helper()
	cfg.Broker, cfg.Host = srv, "127.0.0.1"
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	m, err := monitor.New(cfg)
	if err != nil {
		t.Fatalf("new monitor: %v", err)
	}
	if err := m.Start(); err != nil {
		t.Fatalf("start monitor: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close monitor: %v", err)
		}
	})
	return m
}

// connect dials srv with nats.go, closing at cleanup.
func connect(t testing.TB, srv *broker.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect("nats://"+srv.Addrs()["tcp"].String(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// client is an HTTP client whose idle connections are closed at cleanup,
// so no keep-alive goroutine outlives the test.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get fetches path from m and returns the response and its body.
func get(t testing.TB, c *http.Client, m *monitor.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(fmt.Sprintf("http://%s%s", m.Addr(), path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp, body
}

// getJSON fetches path, checks the JSON headers and decodes into v.
func getJSON(t testing.TB, c *http.Client, m *monitor.Server, path string, v any) {
	t.Helper()
	resp, body := get(t, c, m, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "*" {
		t.Fatalf("GET %s: Access-Control-Allow-Origin %q", path, o)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", path, err, body)
	}
}

// eventually waits for cond (see testutil.Eventually).
var eventually = testutil.Eventually
