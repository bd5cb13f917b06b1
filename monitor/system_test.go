package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/monitor"
)

// startSystem starts the $SYS responder with the monitor's endpoints.
func startSystem(t *testing.T, srv *broker.Server, m *monitor.Server) *broker.System {
	t.Helper()
	opts := broker.SystemOptions{ClusterName: "east"}
	if m != nil {
		opts.Endpoints, opts.AccountEndpoints = m.SystemEndpoints(), m.AccountEndpoints()
	}
	sys, err := srv.StartSystem(opts)
	if err != nil {
		t.Fatalf("start system: %v", err)
	}
	t.Cleanup(sys.Close)
	return sys
}

// sysResponse is the union of the response shapes.
type sysResponse struct {
	Server struct {
		Name    string    `json:"name"`
		ID      string    `json:"id"`
		Cluster string    `json:"cluster"`
		Version string    `json:"ver"`
		Seq     uint64    `json:"seq"`
		Time    time.Time `json:"time"`
	} `json:"server"`
	Statsz *broker.Statsz   `json:"statsz"`
	Data   json.RawMessage  `json:"data"`
	Error  *broker.APIError `json:"error"`
}

func request(t *testing.T, nc *nats.Conn, subject, body string) sysResponse {
	t.Helper()
	msg, err := nc.Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var r sysResponse
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatalf("request %s: %v: %s", subject, err, msg.Data)
	}
	return r
}

// TestSystemRequests sends the requests `nats server ping|list|info` send,
// with nats.go, and checks nats-server's response shapes.
func TestSystemRequests(t *testing.T) {
	srv := startBroker(t, "sys-a")
	m := startMonitor(t, srv, monitor.Config{})
	startSystem(t, srv, m)
	nc := connectSys(t, srv)

	ping := request(t, nc, "$SYS.REQ.SERVER.PING", "")
	if ping.Server.ID != srv.ID() || ping.Server.Name != "sys-a" || ping.Server.Cluster != "east" || ping.Server.Version != broker.ServerVersion || ping.Statsz == nil {
		t.Fatalf("PING: %+v", ping)
	}
	if ping.Statsz.Connections != 1 || ping.Statsz.ActiveServers != 1 || ping.Statsz.NumSubs < 4 {
		t.Errorf("PING statsz: %+v", ping.Statsz)
	}

	// PING.VARZ with the filter `nats server info <name>` sends.
	info := request(t, nc, "$SYS.REQ.SERVER.PING.VARZ", `{"server_name":"sys-a","exact_match":true}`)
	var v monitor.Varz
	if err := json.Unmarshal(info.Data, &v); err != nil || v.ID != srv.ID() || v.Name != "sys-a" {
		t.Fatalf("PING.VARZ: %v %+v", err, v)
	}
	if info.Server.Seq <= ping.Server.Seq {
		t.Errorf("seq did not grow: %d then %d", ping.Server.Seq, info.Server.Seq)
	}
	// The per-server subject.
	direct := request(t, nc, "$SYS.REQ.SERVER."+srv.ID()+".VARZ", "{}")
	if err := json.Unmarshal(direct.Data, &v); err != nil || v.ID != srv.ID() {
		t.Fatalf("<id>.VARZ: %v %+v", err, v)
	}
	var cz monitor.Connz
	connz := request(t, nc, "$SYS.REQ.SERVER."+srv.ID()+".CONNZ", `{"subscriptions":true}`)
	if err := json.Unmarshal(connz.Data, &cz); err != nil || cz.Total != 1 || len(cz.Conns[0].Subs) == 0 {
		t.Fatalf("<id>.CONNZ: %v %+v", err, cz)
	}
	var sz monitor.Subsz
	subsz := request(t, nc, "$SYS.REQ.SERVER.PING.SUBSZ", `{"test":"$SYS.REQ.SERVER.PING","account":"$SYS"}`)
	if err := json.Unmarshal(subsz.Data, &sz); err != nil || sz.Total != 1 || sz.Subs[0].Cid != 0 {
		t.Fatalf("PING.SUBSZ: %v %+v", err, sz)
	}
	if bad := request(t, nc, "$SYS.REQ.SERVER.PING.NOPE", ""); bad.Error == nil || bad.Error.Code != 404 {
		t.Errorf("unknown endpoint: %+v", bad)
	}
	if bad := request(t, nc, "$SYS.REQ.SERVER.PING.VARZ", `{not json`); bad.Error == nil || bad.Error.Code != 400 {
		t.Errorf("bad body: %+v", bad)
	}

	// A filter that excludes this server gets no answer, as nats-server.
	_, err := nc.Request("$SYS.REQ.SERVER.PING.VARZ", []byte(`{"server_name":"someone-else"}`), 200*time.Millisecond)
	if !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("filtered request: %v, want timeout", err)
	}
}

// TestSystemDefaultStatsz: without the monitor the broker answers PING
// from its own counters; after Close nobody answers.
func TestSystemDefaultStatsz(t *testing.T) {
	srv := startBroker(t, "bare")
	sys := startSystem(t, srv, nil)
	nc := connectSys(t, srv)
	r := request(t, nc, "$SYS.REQ.SERVER.PING", "")
	if r.Statsz == nil || r.Statsz.Connections != 1 || r.Server.Name != "bare" {
		t.Fatalf("PING: %+v", r)
	}
	sys.Close()
	if _, err := nc.Request("$SYS.REQ.SERVER.PING", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("after Close: %v, want no responders", err)
	}
	again, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatalf("StartSystem after Close: %v", err)
	}
	again.Close()
}

// natsCLI returns a runner for the real nats CLI against srv as the
// system user, or nil when ~/go/bin/nats (or nats on PATH) is missing
// (outside CI; in CI that fails the test).
func natsCLI(t *testing.T, srv *broker.Server) func(args ...string) string {
	t.Helper()
	return natsCLIAs(t, srv, "sys", "pass")
}

// natsCLIAs is natsCLI logged in as user.
func natsCLIAs(t *testing.T, srv *broker.Server, user, pass string) func(args ...string) string {
	t.Helper()
	bin := testutil.Tool(t, "nats", testutil.InstallNatsCLI)
	url := "nats://" + srv.Addrs()["tcp"].String()
	cfgDir := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		full := append([]string{"--server", url, "--user", user, "--password", pass, "--timeout", "3s"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		// A private config dir: no user context leaks into the test.
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+cfgDir, "HOME="+cfgDir, "NO_COLOR=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
		}
		t.Logf("nats %s:\n%s", strings.Join(args, " "), out.Bytes())
		return out.String()
	}
}

// TestNatsCLI runs the real `nats server ping|list|info` against the
// broker (skipped when the nats CLI is not installed).
func TestNatsCLI(t *testing.T) {
	srv := startBroker(t, "cli-server")
	run := natsCLI(t, srv)
	m := startMonitor(t, srv, monitor.Config{})
	startSystem(t, srv, m)
	if out := run("server", "ping", "1"); !strings.Contains(out, "cli-server") || strings.Contains(out, "Missing") {
		t.Errorf("nats server ping:\n%s", out)
	}
	if out := run("server", "list", "1"); !strings.Contains(out, "cli-server") || !strings.Contains(out, "east") {
		t.Errorf("nats server list:\n%s", out)
	}
	if out := run("server", "info", "cli-server"); !strings.Contains(out, srv.ID()) || !strings.Contains(out, broker.ServerVersion) {
		t.Errorf("nats server info <name>:\n%s", out)
	}
	if out := run("server", "info", srv.ID()); !strings.Contains(out, "cli-server") {
		t.Errorf("nats server info <id>:\n%s", out)
	}
}
