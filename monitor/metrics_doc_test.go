package monitor_test

import (
	"bytes"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// docFamily is one row of docs/metrics.md.
type docFamily struct {
	kind   string
	labels []string
}

// readMetricsDoc parses the tables of docs/metrics.md: rows of
// | `name` | type | labels (comma-separated, or —) | meaning |.
func readMetricsDoc(t *testing.T) map[string]docFamily {
	t.Helper()
	raw, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]docFamily{}
	for i, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("docs/metrics.md:%d: want | `name` | type | labels | meaning |", i+1)
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if _, dup := doc[name]; dup {
			t.Errorf("docs/metrics.md:%d: %s listed twice", i+1, name)
		}
		var labels []string
		if l := strings.TrimSpace(cells[3]); l != "—" {
			for _, s := range strings.Split(l, ",") {
				labels = append(labels, strings.TrimSpace(s))
			}
		}
		slices.Sort(labels)
		doc[name] = docFamily{kind: strings.TrimSpace(cells[2]), labels: labels}
	}
	return doc
}

// fakeLeafs gives a broker one leaf node connection, so the per-leaf
// families have samples.
type fakeLeafs struct{ *broker.Server }

func (fakeLeafs) Leafs(bool) []broker.LeafInfo {
	return []broker.LeafInfo{{CID: 7, Name: "edge", Account: "$G", ToHub: true, RemoteAddr: "10.0.0.9:7422", NumSubs: 3}}
}

// TestMetricsDocumented holds docs/metrics.md and /metrics equal: every
// family the endpoint emits is listed with its type and labels, and every
// listed family is emitted. The broker has a route and gossip members (the
// fake providers), its two built-in accounts and a JetStream stream with
// a consumer, so every family has samples and its labels can be compared.
func TestMetricsDocumented(t *testing.T) {
	srv := startBroker(t, "doc")
	js := withJetStream(t, srv) // so the murmur_jetstream_* families have samples
	m := startMonitor(t, fakeLeafs{srv}, monitor.Config{Routes: fakeCluster{}, Gossip: fakeCluster{}, JetStream: js})
	c := client(t)
	knownTraffic(t, srv)
	get(t, c, m, "/varz") // so murmur_http_requests_total has a sample
	_, body := get(t, c, m, "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	doc := readMetricsDoc(t)
	if len(doc) < 40 {
		t.Fatalf("docs/metrics.md: only %d families parsed", len(doc))
	}
	for name, f := range fams {
		d, ok := doc[name]
		if !ok {
			t.Errorf("/metrics emits %s (%s), which docs/metrics.md does not list", name, strings.ToLower(f.GetType().String()))
			continue
		}
		if kind := strings.ToLower(f.GetType().String()); kind != d.kind {
			t.Errorf("%s: type %s, docs/metrics.md says %s", name, kind, d.kind)
		}
		if len(f.Metric) == 0 {
			t.Errorf("%s: no samples, so its labels cannot be checked", name)
			continue
		}
		var labels []string
		for _, mt := range f.Metric {
			for _, l := range mt.Label {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		slices.Sort(labels)
		if !slices.Equal(labels, d.labels) {
			t.Errorf("%s: labels %v, docs/metrics.md says %v", name, labels, d.labels)
		}
	}
	for name := range doc {
		if _, ok := fams[name]; ok {
			continue
		}
		// The process collector reports a subset off Linux.
		if strings.HasPrefix(name, "process_") && runtime.GOOS != "linux" {
			continue
		}
		t.Errorf("docs/metrics.md lists %s, which /metrics does not emit", name)
	}
}
