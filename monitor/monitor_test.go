package monitor_test

import (
	"bytes"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// knownTraffic sends 1000 messages of 100 bytes from one nats.go client to
// two subscribers and waits until both got all of them. It returns the
// publisher and the subscribers.
func knownTraffic(t *testing.T, srv *broker.Server) (pub *nats.Conn, subs [2]*nats.Conn) {
	t.Helper()
	const n, size = 1000, 100
	var got [2]atomic.Int64
	for i := range subs {
		subs[i] = connect(t, srv, nats.Name("sub"+string(rune('A'+i))))
		if _, err := subs[i].Subscribe("load", func(*nats.Msg) { got[i].Add(1) }); err != nil {
			t.Fatal(err)
		}
		if err := subs[i].Flush(); err != nil {
			t.Fatal(err)
		}
	}
	pub = connect(t, srv, nats.Name("pub"))
	payload := bytes.Repeat([]byte("x"), size)
	for range n {
		if err := pub.Publish("load", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both subscribers to receive 1000", func() bool {
		return got[0].Load() == n && got[1].Load() == n
	})
	return pub, subs
}

func TestVarzAndConnzCountExactly(t *testing.T) {
	srv := startBroker(t, "exact")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	knownTraffic(t, srv)

	var v monitor.Varz
	// The broker adds a read's counts after processing it, so the last
	// counts can trail the subscribers' receipt by a moment.
	eventually(t, 5*time.Second, "varz to count the traffic", func() bool {
		getJSON(t, c, m, "/varz", &v)
		return v.OutMsgs == 2000 && v.InMsgs == 1000
	})
	want := map[string]int64{"in_msgs": 1000, "out_msgs": 2000, "in_bytes": 100000, "out_bytes": 200000, "connections": 3, "total_connections": 3, "subscriptions": 2}
	have := map[string]int64{"in_msgs": v.InMsgs, "out_msgs": v.OutMsgs, "in_bytes": v.InBytes, "out_bytes": v.OutBytes, "connections": int64(v.Connections), "total_connections": v.TotalConnections, "subscriptions": int64(v.Subscriptions)}
	for k, w := range want {
		if have[k] != w {
			t.Errorf("varz %s = %d, want %d", k, have[k], w)
		}
	}
	if v.Name != "exact" || v.ID != srv.ID() || v.Version != broker.ServerVersion || v.Proto != 1 {
		t.Errorf("varz identity: %+v", v)
	}
	if v.PingInterval != broker.DefaultPingInterval || v.WriteDeadline != broker.DefaultWriteDeadline || v.MaxPayload != broker.DefaultMaxPayload {
		t.Errorf("varz limits: ping_interval %d write_deadline %d max_payload %d", v.PingInterval, v.WriteDeadline, v.MaxPayload)
	}
	addr := srv.Addrs()["tcp"].String()
	if v.Transports["tcp"] != addr || net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) != addr {
		t.Errorf("varz host %s port %d transports %v, want tcp %s", v.Host, v.Port, v.Transports, addr)
	}
	if v.HTTPPort != m.HTTPPort() || v.HTTPPort == 0 {
		t.Errorf("varz http_port %d, monitor on %d", v.HTTPPort, m.HTTPPort())
	}
	if !strings.HasSuffix(v.Uptime, "s") || v.Start.IsZero() || v.Now.Before(v.Start) {
		t.Errorf("varz times: start %v now %v uptime %q", v.Start, v.Now, v.Uptime)
	}

	// Raw JSON: nats-server's units (ns integers, RFC 3339 strings).
	_, raw := get(t, c, m, "/varz")
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["ping_interval"].(float64) != float64(2*time.Minute) {
		t.Errorf("ping_interval on the wire: %v", doc["ping_interval"])
	}
	if _, err := time.Parse(time.RFC3339Nano, doc["start"].(string)); err != nil {
		t.Errorf("start on the wire: %v", err)
	}

	var cz monitor.Connz
	getJSON(t, c, m, "/connz?subs=1", &cz)
	if cz.NumConns != 3 || cz.Total != 3 || len(cz.Conns) != 3 || cz.ID != srv.ID() {
		t.Fatalf("connz: %d of %d connections", cz.NumConns, cz.Total)
	}
	for _, ci := range cz.Conns {
		if ci.Transport != "tcp" || ci.IP != "127.0.0.1" || ci.Port == 0 || ci.Lang != "go" || ci.Kind != "Client" {
			t.Errorf("connz %d: transport %q ip %q port %d lang %q kind %q", ci.Cid, ci.Transport, ci.IP, ci.Port, ci.Lang, ci.Kind)
		}
		switch ci.Name {
		case "pub":
			if ci.InMsgs != 1000 || ci.InBytes != 100000 || ci.OutMsgs != 0 || ci.OutBytes != 0 || ci.NumSubs != 0 {
				t.Errorf("connz publisher: in %d/%d out %d/%d subs %d", ci.InMsgs, ci.InBytes, ci.OutMsgs, ci.OutBytes, ci.NumSubs)
			}
		case "subA", "subB":
			if ci.InMsgs != 0 || ci.OutMsgs != 1000 || ci.OutBytes != 100000 || ci.NumSubs != 1 || len(ci.Subs) != 1 || ci.Subs[0] != "load" {
				t.Errorf("connz %s: in %d out %d/%d subs %d %v", ci.Name, ci.InMsgs, ci.OutMsgs, ci.OutBytes, ci.NumSubs, ci.Subs)
			}
		default:
			t.Errorf("connz: unexpected connection %q", ci.Name)
		}
	}
}

func TestHealthz(t *testing.T) {
	srv := newBroker(t, "health")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	check := func(code int, status, errText string) {
		t.Helper()
		resp, body := get(t, c, m, "/healthz")
		var h monitor.Healthz
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("healthz: %v: %s", err, body)
		}
		if resp.StatusCode != code || h.Status != status || h.Error != errText {
			t.Fatalf("healthz = %d %+v, want %d %s %q", resp.StatusCode, h, code, status, errText)
		}
		if resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("healthz Content-Type %q", resp.Header.Get("Content-Type"))
		}
	}
	check(503, "unavailable", broker.ErrStarting.Error())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	check(200, "ok", "")
	srv.Close()
	check(503, "unavailable", broker.ErrShuttingDown.Error())
}

func TestNotFoundAndBadRequests(t *testing.T) {
	srv := startBroker(t, "bad")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	for path, code := range map[string]int{
		"/nope":                 404,
		"/connz?sort=bogus":     400,
		"/connz?sort=stop":      400,
		"/connz?state=sideways": 400,
		"/subsz?test=foo.*":     400,
	} {
		if resp, body := get(t, c, m, path); resp.StatusCode != code {
			t.Errorf("GET %s = %d (%s), want %d", path, resp.StatusCode, body, code)
		}
	}
	for _, path := range []string{"/gatewayz", "/leafz"} {
		var doc map[string]any
		getJSON(t, c, m, path, &doc)
		if doc["server_id"] != srv.ID() {
			t.Errorf("%s: %v", path, doc)
		}
	}
}

func TestEmptyClusterViews(t *testing.T) {
	srv := startBroker(t, "alone")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	var raw map[string]json.RawMessage
	getJSON(t, c, m, "/routez", &raw)
	if string(raw["routes"]) != "[]" || string(raw["num_routes"]) != "0" || string(raw["server_name"]) != `"alone"` {
		t.Errorf("routez: %s %s %s", raw["routes"], raw["num_routes"], raw["server_name"])
	}
	getJSON(t, c, m, "/gossipz", &raw)
	if string(raw["members"]) != "[]" || string(raw["num_members"]) != "0" {
		t.Errorf("gossipz: %s %s", raw["members"], raw["num_members"])
	}
}

// fakeCluster stands in for the clustering work's providers.
type fakeCluster struct{}

func (fakeCluster) Routes() []broker.RouteInfo {
	return []broker.RouteInfo{{RID: 7, RemoteID: "NREMOTE", RemoteName: "b", RemoteAddr: "10.0.0.2:6222", Start: time.Now().Add(-90 * time.Second), InMsgs: 5, NumSubs: 2, Compressed: true}}
}

func (fakeCluster) Members() []monitor.Member {
	return []monitor.Member{
		{Name: "a", Address: "10.0.0.1:7946", State: monitor.StateAlive, Local: true, Incarnation: 3},
		{Name: "b", Address: "10.0.0.2:7946", State: monitor.StateAlive, Meta: map[string]string{"client": "nats://10.0.0.2:4222"}},
		{Name: "c", Address: "10.0.0.3:7946", State: monitor.StateSuspect},
	}
}

func TestClusterProviders(t *testing.T) {
	srv := startBroker(t, "a")
	m := startMonitor(t, srv, monitor.Config{Routes: fakeCluster{}, Gossip: fakeCluster{}})
	c := client(t)
	var rz monitor.Routez
	getJSON(t, c, m, "/routez", &rz)
	if rz.NumRoutes != 1 || len(rz.Routes) != 1 {
		t.Fatalf("routez: %+v", rz)
	}
	if r := rz.Routes[0]; r.RemoteName != "b" || r.Rid != 7 || r.IP != "10.0.0.2" || r.Port != 6222 || r.Uptime != "1m30s" || r.Compression != "s2" || r.InMsgs != 5 {
		t.Errorf("routez route: %+v", r)
	}
	var gz monitor.Gossipz
	getJSON(t, c, m, "/gossipz", &gz)
	if gz.NumMembers != 3 || gz.Alive != 2 || gz.Members[2].State != "suspect" || gz.Members[1].Meta["client"] == "" {
		t.Errorf("gossipz: %+v", gz)
	}
	var v monitor.Varz
	getJSON(t, c, m, "/varz", &v)
	if v.Routes != 1 || v.Remotes != 1 || v.Members != 2 || v.Cluster.Name != "" {
		t.Errorf("varz cluster: routes %d remotes %d members %d cluster %+v", v.Routes, v.Remotes, v.Members, v.Cluster)
	}
}

func TestStatsLog(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	srv := startBroker(t, "logger")
	members := monitor.GossipFunc(fakeCluster{}.Members)
	startMonitor(t, srv, monitor.Config{Port: 0, StatsInterval: 10 * time.Millisecond, Logger: zap.New(core), Gossip: members})
	connect(t, srv)
	eventually(t, 5*time.Second, "a stats line counting the connection", func() bool {
		for _, e := range logs.FilterMessage("stats").All() {
			f := e.ContextMap()
			if f["conns"] == int64(1) && f["members_alive"] == int64(2) {
				return e.Level == zapcore.InfoLevel
			}
		}
		return false
	})
}

func TestNoHTTPWhenPortZero(t *testing.T) {
	srv := startBroker(t, "quiet")
	m, err := monitor.New(monitor.Config{Broker: srv})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if m.Addr() != nil || m.HTTPPort() != 0 {
		t.Errorf("listening on %v with port 0", m.Addr())
	}
	if v := m.Varz(); v.InMsgs != 0 || v.Name != "quiet" {
		t.Errorf("varz without http: %+v", v)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVarzConnectURLs: /varz connect_urls is the list clients are given in
// INFO connect_urls (the cluster layer sets it), absent when there is none.
func TestVarzConnectURLs(t *testing.T) {
	srv := startBroker(t, "urls")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	var v monitor.Varz
	getJSON(t, c, m, "/varz", &v)
	if v.ConnectURLs != nil {
		t.Fatalf("connect_urls without a cluster: %v", v.ConnectURLs)
	}
	want := []string{"127.0.0.1:4222", "127.0.0.1:4223"}
	srv.SetConnectURLs(want)
	getJSON(t, c, m, "/varz", &v)
	if !slices.Equal(v.ConnectURLs, want) {
		t.Fatalf("varz connect_urls %v, want %v", v.ConnectURLs, want)
	}
}
