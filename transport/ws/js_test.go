package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

// jsDir holds the pinned JavaScript clients (testdata/js/install.sh).
const jsDir = "testdata/js"

// needJS skips (or, under CI, fails) when the npm packages are missing.
func needJS(t *testing.T) {
	t.Helper()
	testutil.Tool(t, "node", testutil.InstallNode)
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "nats.ws")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("JavaScript clients missing; run transport/ws/testdata/js/install.sh")
		}
		t.Skip("JavaScript clients missing (transport/ws/testdata/js/install.sh)")
	}
}

// startBroker serves TCP and WebSocket (ws://, deflate offered) on loopback.
func startBroker(t *testing.T, cfg ws.Config) *broker.Server {
	t.Helper()
	wt, err := ws.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := broker.DefaultOptions()
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		{Transport: wt, Addr: "127.0.0.1:0"},
	}
	srv, err := broker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestNodeClients runs testdata/js/node.test.mjs (node's test runner) with
// the unmodified nats.ws and nats packages against the broker.
func TestNodeClients(t *testing.T) {
	needJS(t)
	srv := startBroker(t, ws.Config{Compression: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--experimental-websocket", "--no-warnings", "--test", "--test-reporter=spec", "node.test.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(),
		"WS_URL=ws://"+srv.Addrs()[ws.Name].String(),
		"NATS_URL=nats://"+srv.Addrs()["tcp"].String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node tests failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestBrowserPage loads testdata/js/page.html in headless Chromium: the page
// connects with nats.ws (from an origin the listener allows, with the
// permessage-deflate Chromium offers), answers a Go client's request,
// receives its messages and reports them on page.result.
func TestBrowserPage(t *testing.T) {
	needJS(t)
	bin := chromiumBin(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			http.ServeFile(w, r, filepath.Join(jsDir, "page.html"))
		case "/nats.ws.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, filepath.Join(jsDir, "node_modules", "nats.ws", "esm", "nats.js"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(web.Close)
	srv := startBroker(t, ws.Config{Compression: true, AllowedOrigins: []string{web.URL}})

	nc, err := nats.Connect("nats://"+srv.Addrs()["tcp"].String(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hello, _ := nc.SubscribeSync("page.hello")
	result, _ := nc.SubscribeSync("page.result")
	nc.Flush()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--remote-debugging-port=0",
		web.URL+"/?ws=ws://"+srv.Addrs()[ws.Name].String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	m, err := hello.NextMsg(60 * time.Second)
	if err != nil {
		t.Fatalf("the page never said hello: %v\n%s", err, stderr.Bytes())
	}
	if !strings.Contains(string(m.Data), "Chrome") {
		t.Fatalf("hello from %q", m.Data)
	}
	r, err := nc.Request("page.echo", []byte("ping"), 10*time.Second)
	if err != nil {
		t.Fatalf("request to the page: %v", err)
	}
	if string(r.Data) != "page got ping" {
		t.Fatalf("the page answered %q", r.Data)
	}
	for _, s := range []string{"one", "two", strings.Repeat("three", 20000)} {
		nc.Publish("page.in", []byte(s))
	}
	m, err = result.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no result from the page: %v", err)
	}
	var res struct {
		Got   []string `json:"got"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &res); err != nil || res.Error != "" ||
		len(res.Got) != 3 || res.Got[0] != "one" || res.Got[1] != "two" || res.Got[2] != strings.Repeat("three", 20000) {
		t.Fatalf("page result %.200s (%v)", m.Data, err)
	}
	var browser bool
	for _, c := range srv.Connections(false) {
		browser = browser || c.Transport == ws.Name
	}
	if !browser {
		t.Fatal("no websocket connection listed")
	}
}

func chromiumBin(t *testing.T) string {
	t.Helper()
	return testutil.Tool(t, "chromium", testutil.InstallChromium)
}
