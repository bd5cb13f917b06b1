package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/murmurmq/murmur/internal/testutil"
)

// dashboardExprs returns every PromQL expression of the dashboard: panel
// targets (rows included) and the template variables' queries.
func dashboardExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int     `json:"id"`
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		GridPos *struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	}
	var d struct {
		Title      string  `json:"title"`
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard has no title or uid")
	}
	exprs := map[string]string{}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q queries nothing", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.RefID == "" {
					t.Errorf("panel %q: target without expr or refId", p.Title)
				}
				exprs[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
			exprs["variable "+v.Name] = q.Query
		}
	}
	return exprs
}

// promqlWords are PromQL's functions, aggregations and keywords that the
// dashboard may use; any other word outside braces and by (...) is read as
// a metric name.
var promqlWords = []string{
	"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "rate", "irate", "increase",
	"deriv", "delta", "histogram_quantile", "label_values", "clamp_min", "clamp_max", "abs", "time",
	"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
}

// promqlRefs lists the metric names an expression reads and, per metric,
// the label names it matches on or groups by. It knows the subset of
// PromQL dashboards use: selectors with matchers, range vectors,
// functions, aggregations with by/without, and vector matching with
// on/ignoring/group_left.
func promqlRefs(expr string) (metrics []string, labels []string, err error) {
	s := regexp.MustCompile(`"(\\.|[^"\\])*"`).ReplaceAllString(expr, `""`) // strings
	s = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(s, "")            // ranges
	s = regexp.MustCompile(`\$\{?\w+\}?`).ReplaceAllString(s, "")           // variables
	// Grafana's label_values(metric, label) reads label of metric.
	s = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*(\w+)\s*\)`).ReplaceAllString(s, `${1}{${2}=""}`)
	ident := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	inBraces, inLabelList := false, false
	var prev string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{':
			inBraces = true
		case c == '}':
			inBraces = false
		case c == ')' && inLabelList:
			inLabelList = false
		case c == '(' && slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, prev):
			inLabelList = true
		}
		m := ident.FindString(s[i:])
		if m == "" || (i > 0 && (s[i-1] >= '0' && s[i-1] <= '9' || s[i-1] == '.')) {
			i++
			continue
		}
		i += len(m)
		switch {
		case inBraces || inLabelList:
			labels = append(labels, m)
		case slices.Contains(promqlWords, m):
		default:
			metrics = append(metrics, m)
		}
		prev = m
	}
	if len(metrics) == 0 {
		return nil, nil, fmt.Errorf("no metric in %q", expr)
	}
	return metrics, labels, nil
}

// TestGrafanaDashboard loads deploy/grafana/murmur.json and checks each
// PromQL expression against /metrics of a running two-broker cluster (the
// real binary, with a route between them and traffic over it): every
// metric it reads is served, with samples, and every label it matches on
// or groups by is on one of those metrics (or is instance or job, which
// Prometheus adds when it scrapes).
func TestGrafanaDashboard(t *testing.T) {
	exprs := dashboardExprs(t, "grafana/murmur.json")
	if len(exprs) < 20 {
		t.Fatalf("only %d expressions", len(exprs))
	}
	a := startMonitored(t, "graf-a", nil)
	b := startMonitored(t, "graf-b", []string{a.gossip})
	for _, p := range []*monitoredBroker{a, b} {
		testutil.Eventually(t, 15*time.Second, p.name+" to route to the other", func() bool {
			return strings.Contains(string(p.scrape(t)), "murmur_routes{server=\""+p.name+"\"} 1")
		})
	}
	// Traffic over the route, so the per-route counters have moved.
	sub := dial(t, b.client)
	s, err := sub.SubscribeSync("graf.>")
	if err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	pub := dial(t, a.client)
	testutil.Eventually(t, 10*time.Second, "a message across the route", func() bool {
		pub.Publish("graf.x", []byte("hi"))
		_, err := s.NextMsg(100 * time.Millisecond)
		return err == nil
	})

	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(a.scrape(t)))
	if err != nil {
		t.Fatal(err)
	}
	served := map[string][]string{} // metric -> label names with samples
	for name, f := range fams {
		var ls []string
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if !slices.Contains(ls, l.GetName()) {
					ls = append(ls, l.GetName())
				}
			}
		}
		if f.GetType().String() == "SUMMARY" {
			ls = append(ls, "quantile")
		}
		if len(f.Metric) > 0 {
			served[name] = ls
		}
	}
	for where, expr := range exprs {
		metrics, labels, err := promqlRefs(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		var have []string
		for _, m := range metrics {
			ls, ok := served[m]
			if !ok {
				t.Errorf("%s: %s is not served by /metrics (or has no samples): %s", where, m, expr)
			}
			have = append(have, ls...)
		}
		for _, l := range labels {
			if !slices.Contains(have, l) && l != "instance" && l != "job" {
				t.Errorf("%s: label %s is on none of %v: %s", where, l, metrics, expr)
			}
		}
	}
}

// TestPromqlRefs holds the dashboard checker to what it must catch.
func TestPromqlRefs(t *testing.T) {
	m, l, err := promqlRefs(`topk(10, sum by (account) (rate(murmur_account_in_msgs_total{server=~"$server", x="a b"}[$__rate_interval]))) * 60`)
	if err != nil || !slices.Equal(m, []string{"murmur_account_in_msgs_total"}) || !slices.Equal(l, []string{"account", "server", "x"}) {
		t.Errorf("got %v %v %v", m, l, err)
	}
	m, l, _ = promqlRefs(`process_open_fds / process_max_fds * on (instance) group_left (server) murmur_info{server=~"$server"}`)
	if !slices.Equal(m, []string{"process_open_fds", "process_max_fds", "murmur_info"}) || !slices.Equal(l, []string{"instance", "server", "server"}) {
		t.Errorf("got %v %v", m, l)
	}
	m, l, _ = promqlRefs(`label_values(murmur_info, server)`)
	if !slices.Equal(m, []string{"murmur_info"}) || !slices.Equal(l, []string{"server"}) {
		t.Errorf("label_values: got %v %v", m, l)
	}
	if _, _, err := promqlRefs(`sum(rate([5m]))`); err == nil {
		t.Errorf("an expression with no metric passed")
	}
}

// monitoredBroker is a broker process with a known monitoring port.
type monitoredBroker struct {
	name, client, monitor, gossip string
}

// startMonitored runs the broker binary clustered on loopback, joined to
// seeds, and waits until its monitor answers /healthz.
func startMonitored(t *testing.T, name string, seeds []string) *monitoredBroker {
	t.Helper()
	p := &monitoredBroker{name: name}
	port := func() string { return fmt.Sprint(testutil.FreePort(t)) }
	cp, mp, gp := port(), port(), port()
	p.client, p.monitor, p.gossip = "nats://127.0.0.1:"+cp, "127.0.0.1:"+mp, "127.0.0.1:"+gp
	args := []string{"-a", "127.0.0.1", "-p", cp, "-n", name, "--http_addr", "127.0.0.1", "-m", mp,
		"--cluster", "127.0.0.1:" + port(), "--cluster_name", "graf", "--gossip_addr", "127.0.0.1", "--gossip_port", gp}
	if len(seeds) > 0 {
		args = append(args, "--gossip_seeds", strings.Join(seeds, ","))
	}
	cmd := exec.Command(testutil.BrokerBinary(t), args...)
	log := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", name, log.String())
		}
	})
	testutil.Eventually(t, 10*time.Second, name+" /healthz", func() bool {
		resp, err := http.Get("http://" + p.monitor + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return p
}

// scrape returns the broker's /metrics.
func (p *monitoredBroker) scrape(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get("http://" + p.monitor + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// dial connects nats.go to url, closed at cleanup.
func dial(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
