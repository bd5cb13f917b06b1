package monitor_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// TestMetricsParse parses /metrics with Prometheus's own text parser and
// checks the counters against /varz.
func TestMetricsParse(t *testing.T) {
	srv := startBroker(t, `metrics "quoted"\name`)
	m := startMonitor(t, srv, monitor.Config{Routes: fakeCluster{}, Gossip: fakeCluster{}})
	c := client(t)
	knownTraffic(t, srv)
	var v monitor.Varz
	eventually(t, 5*time.Second, "varz to count the traffic", func() bool {
		getJSON(t, c, m, "/varz", &v)
		return v.OutMsgs == 2000 && v.InMsgs == 1000
	})

	resp, body := get(t, c, m, "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	next:
		for _, mt := range f.Metric {
			have := map[string]string{}
			for _, l := range mt.Label {
				have[l.GetName()] = l.GetValue()
			}
			if have["server"] != srv.Name() {
				t.Errorf("%s: server label %q", name, have["server"])
			}
			for k, want := range labels {
				if have[k] != want {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return mt.GetGauge().GetValue()
			}
		}
		t.Fatalf("%s: no sample with %v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"murmur_in_msgs_total", nil, 1000},
		{"murmur_out_msgs_total", nil, 2000},
		{"murmur_in_bytes_total", nil, 100000},
		{"murmur_out_bytes_total", nil, 200000},
		{"murmur_connections", nil, 3},
		{"murmur_subscriptions", nil, 2},
		{"murmur_transport_connections", map[string]string{"transport": "tcp"}, 3},
		{"murmur_transport_in_msgs", map[string]string{"transport": "tcp"}, 1000},
		{"murmur_routes", nil, 1},
		{"murmur_route_in_msgs_total", map[string]string{"remote_name": "b"}, 5},
		{"murmur_gossip_members", map[string]string{"state": "alive"}, 2},
		{"murmur_gossip_members", map[string]string{"state": "suspect"}, 1},
		{"murmur_info", map[string]string{"server_id": srv.ID(), "version": broker.Version, "nats_version": broker.ServerVersion}, 1},
	}
	for _, ck := range checks {
		if got := value(ck.name, ck.labels); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	if fams["murmur_in_msgs_total"].GetType() != dto.MetricType_COUNTER || fams["murmur_connections"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("metric types wrong")
	}
}
