package monitor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
	"github.com/murmurmq/murmur/monitor"
)

// withJetStream runs JetStream in srv's global account, with one stream
// (S, one message) and one consumer (C), and returns the service.
func withJetStream(t *testing.T, srv *broker.Server) *jetstream.Service {
	t.Helper()
	srv.SetJetStream(true)
	svc := jetstream.NewService(srv.ID())
	cfg := jetstream.Config{StoreDir: t.TempDir(), ServerName: srv.Name()}
	svc.Enable(cfg)
	e := jetstream.New(cfg, broker.GlobalAccount, nil)
	ic, err := srv.NewInternalClient(broker.GlobalAccount, e.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ic); err != nil {
		t.Fatal(err)
	}
	svc.Add(e)
	t.Cleanup(func() { e.Close(); ic.Close() })
	js, err := njs.New(connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(c, njs.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "s.a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrUpdateConsumer(c, njs.ConsumerConfig{Durable: "C"}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestJsz: /jsz without JetStream is nats-server's disabled document;
// with it, the totals, the accounts, streams and consumers as asked, and
// 400 for a malformed parameter. The /varz jetstream block and the JSZ
// system request report the same.
func TestJsz(t *testing.T) {
	c := client(t)
	off := startMonitor(t, startBroker(t, "off"), monitor.Config{})
	var doc map[string]any
	getJSON(t, c, off, "/jsz", &doc)
	if doc["disabled"] != true || doc["server_id"] == "" {
		t.Errorf("/jsz without JetStream: %v", doc)
	}
	var v map[string]any
	getJSON(t, c, off, "/varz", &v)
	if js, _ := v["jetstream"].(map[string]any); len(js) != 0 {
		t.Errorf("/varz jetstream without JetStream: %v, want {}", js)
	}

	srv := startBroker(t, "on")
	svc := withJetStream(t, srv)
	m := startMonitor(t, srv, monitor.Config{JetStream: svc})
	var jsi jetstream.JSInfo
	getJSON(t, c, m, "/jsz", &jsi)
	if jsi.Disabled || jsi.Streams != 1 || jsi.Consumers != 1 || jsi.Messages != 1 || jsi.Bytes == 0 || jsi.Accounts != 1 ||
		jsi.Total != 1 || jsi.ReservedStore != 1<<20 || jsi.API.Total < 2 || jsi.AccountDetails != nil || jsi.Config.MaxStore != -1 {
		t.Errorf("/jsz: %+v", jsi)
	}
	jsi = jetstream.JSInfo{}
	getJSON(t, c, m, "/jsz?consumers=true&config=true", &jsi)
	if len(jsi.AccountDetails) != 1 {
		t.Fatalf("/jsz?consumers=true: %+v", jsi)
	}
	ad := jsi.AccountDetails[0]
	if ad.Name != "$G" || len(ad.Streams) != 1 || ad.Streams[0].Config == nil || len(ad.Streams[0].Consumer) != 1 ||
		ad.Streams[0].Consumer[0].Name != "C" || ad.Streams[0].Consumer[0].NumPending != 1 || ad.Streams[0].Consumer[0].Config == nil {
		t.Errorf("/jsz account detail: %+v", ad)
	}
	jsi = jetstream.JSInfo{}
	getJSON(t, c, m, "/jsz?accounts=true&offset=1", &jsi)
	if len(jsi.AccountDetails) != 0 || jsi.Total != 1 {
		t.Errorf("/jsz?offset=1: %+v", jsi.AccountDetails)
	}
	jsi = jetstream.JSInfo{}
	getJSON(t, c, m, "/jsz?acc=$G&streams=true", &jsi)
	if len(jsi.AccountDetails) != 1 || jsi.AccountDetails[0].Streams[0].Config != nil || jsi.AccountDetails[0].Streams[0].Consumer != nil {
		t.Errorf("/jsz?acc=$G&streams=true: %+v", jsi.AccountDetails)
	}
	for q, want := range map[string]string{
		"offset=x":       "Error decoding int for 'offset'",
		"streams=yes":    "Error decoding boolean for 'streams'",
		"leader-only=2x": "Error decoding boolean for 'leader-only'",
	} {
		resp, body := get(t, c, m, "/jsz?"+q)
		if resp.StatusCode != 400 || !strings.Contains(string(body), want) {
			t.Errorf("/jsz?%s: %d %q, want 400 %q", q, resp.StatusCode, body, want)
		}
	}

	getJSON(t, c, m, "/varz", &v)
	js, _ := v["jetstream"].(map[string]any)
	cfg, _ := js["config"].(map[string]any)
	stats, _ := js["stats"].(map[string]any)
	if !strings.HasSuffix(cfg["store_dir"].(string), "/jetstream") || stats["accounts"] != float64(1) || stats["reserved_storage"] != float64(1<<20) {
		t.Errorf("/varz jetstream: %v", js)
	}

	startSystem(t, srv, m)
	nc := connectSys(t, srv)
	msg, err := nc.Request("$SYS.REQ.SERVER.PING.JSZ", []byte(`{"accounts":true}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Server struct {
			JetStream bool `json:"jetstream"`
		} `json:"server"`
		Data jetstream.JSInfo `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Server.JetStream || len(r.Data.AccountDetails) != 1 || r.Data.Streams != 1 {
		t.Errorf("JSZ: %s", msg.Data)
	}
	msg, err = nc.Request("$SYS.REQ.ACCOUNT.$G.JSZ", []byte(`{"streams":true}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ra struct {
		Data jetstream.AccountDetail `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &ra); err != nil || ra.Data.Name != "$G" || len(ra.Data.Streams) != 1 {
		t.Errorf("account JSZ: %s (%v)", msg.Data, err)
	}
}
