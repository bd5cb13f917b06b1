package monitor

import (
	"bytes"

	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// Metrics returns the Prometheus text exposition (format 0.0.4) of the
// server's counters and gauges, per server, per transport, per account,
// per route and per gossip state, followed by the standard go_* and
// process_* families (runtime_metrics.go). Every murmur_* sample carries a
// server label (the server name) so one query can aggregate a cluster.
// docs/metrics.md lists every family; a test holds the two equal.
func (m *Server) Metrics() []byte {
	w := &promWriter{server: m.b.Name()}
	v := m.Varz()
	st := m.b.IndexStats()

	w.family("murmur_info", "gauge", "Server identity; always 1.")
	w.sample("murmur_info", 1, "server_id", v.ID, "version", v.MurmurVersion, "nats_version", v.Version, "git_commit", v.GitCommit, "go", v.GoVersion)
	w.gauge("murmur_start_time_seconds", "When the server started, in Unix seconds.", float64(v.Start.UnixNano())/1e9)
	w.gauge("murmur_uptime_seconds", "Seconds since the server started.", time.Since(m.b.StartTime()).Seconds())
	w.gauge("murmur_connections", "Open client connections.", float64(v.Connections))
	w.counter("murmur_connections_total", "Client connections accepted since start.", float64(v.TotalConnections))
	w.gauge("murmur_subscriptions", "Subscriptions in the subject index.", float64(v.Subscriptions))
	w.counter("murmur_in_msgs_total", "Messages received from clients and routes.", float64(v.InMsgs))
	w.counter("murmur_in_bytes_total", "Payload bytes received.", float64(v.InBytes))
	w.counter("murmur_out_msgs_total", "Messages delivered.", float64(v.OutMsgs))
	w.counter("murmur_out_bytes_total", "Payload bytes delivered.", float64(v.OutBytes))
	w.counter("murmur_slow_consumers_total", "Connections closed as slow consumers.", float64(v.SlowConsumers))
	w.counter("murmur_stale_connections_total", "Connections closed as stale.", float64(v.StaleConnections))
	w.gauge("murmur_mem_bytes", "Resident memory of the process.", float64(v.Mem))
	w.gauge("murmur_cpu_percent", "Process CPU use, percent of one core.", v.CPU)
	w.gauge("murmur_cores", "CPU cores.", float64(v.Cores))
	w.counter("murmur_sublist_inserts_total", "Subscriptions inserted into the index.", float64(st.Inserts))
	w.counter("murmur_sublist_removes_total", "Subscriptions removed from the index.", float64(st.Removes))
	w.counter("murmur_sublist_matches_total", "Subject lookups in the index.", float64(st.Matches))
	w.counter("murmur_sublist_cache_hits_total", "Lookups answered by the match cache.", float64(st.Hits))
	w.gauge("murmur_sublist_cache_entries", "Entries in the match cache.", float64(st.CacheEntries))

	ts := m.b.TransportStats()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	perTransport := []struct {
		name, help string
		val        func(n string) float64
	}{
		{"murmur_transport_connections", "Open connections per client transport.", func(n string) float64 { return float64(ts[n].Connections) }},
		{"murmur_transport_in_msgs", "Messages received by the open connections of a transport.", func(n string) float64 { return float64(ts[n].InMsgs) }},
		{"murmur_transport_in_bytes", "Bytes received by the open connections of a transport.", func(n string) float64 { return float64(ts[n].InBytes) }},
		{"murmur_transport_out_msgs", "Messages delivered to the open connections of a transport.", func(n string) float64 { return float64(ts[n].OutMsgs) }},
		{"murmur_transport_out_bytes", "Bytes delivered to the open connections of a transport.", func(n string) float64 { return float64(ts[n].OutBytes) }},
	}
	for _, f := range perTransport {
		// Gauges: connections come and go, so the sums can fall.
		w.family(f.name, "gauge", f.help)
		for _, n := range names {
			w.sample(f.name, f.val(n), "transport", n)
		}
	}

	m.accountMetrics(w)

	var routes []*RouteInfo
	if m.routes != nil {
		routes = m.Routez(false).Routes
	}
	w.gauge("murmur_routes", "Open routes to other brokers.", float64(len(routes)))
	perRoute := []struct {
		name, kind, help string
		val              func(r *RouteInfo) float64
	}{
		{"murmur_route_in_msgs_total", "counter", "Messages received over a route.", func(r *RouteInfo) float64 { return float64(r.InMsgs) }},
		{"murmur_route_in_bytes_total", "counter", "Bytes received over a route.", func(r *RouteInfo) float64 { return float64(r.InBytes) }},
		{"murmur_route_out_msgs_total", "counter", "Messages sent over a route.", func(r *RouteInfo) float64 { return float64(r.OutMsgs) }},
		{"murmur_route_out_bytes_total", "counter", "Bytes sent over a route.", func(r *RouteInfo) float64 { return float64(r.OutBytes) }},
		{"murmur_route_pending_bytes", "gauge", "Bytes queued for a route.", func(r *RouteInfo) float64 { return float64(r.Pending) }},
		{"murmur_route_subscriptions", "gauge", "Interest a route has registered.", func(r *RouteInfo) float64 { return float64(r.NumSubs) }},
	}
	for _, f := range perRoute {
		w.family(f.name, f.kind, f.help)
		for _, r := range routes {
			w.sample(f.name, f.val(r), "rid", strconv.FormatUint(r.Rid, 10), "remote_id", r.RemoteID, "remote_name", r.RemoteName)
		}
	}

	m.leafMetrics(w)
	m.jetStreamMetrics(w)

	if m.gossip != nil {
		counts := map[string]int{StateAlive: 0, StateSuspect: 0, StateDead: 0, StateLeft: 0}
		for _, mb := range m.gossip.Members() {
			counts[mb.State]++
		}
		w.family("murmur_gossip_members", "gauge", "Gossip members by state, as this broker sees them.")
		for _, s := range slices.Sorted(maps.Keys(counts)) {
			w.sample("murmur_gossip_members", float64(counts[s]), "state", s)
		}
	}

	reqs := v.HTTPReqStats
	w.family("murmur_http_requests_total", "counter", "Monitoring requests per path.")
	for _, p := range slices.Sorted(maps.Keys(reqs)) {
		w.sample("murmur_http_requests_total", float64(reqs[p]), "path", p)
	}
	writeRuntimeMetrics(&w.buf)
	return w.buf.Bytes()
}

// MaxAccountLabels bounds the accounts /metrics names one by one: the
// busiest by connections; the rest are summed under account="_other", so
// 10,000 accounts do not make 10,000 series per metric. (An account that
// moves between the named and the rest takes its totals along, so the
// counters of both may fall then, which Prometheus reads as a reset.)
const MaxAccountLabels = 100

// accountMetrics writes the per-account series: gauges of what is open
// now, counters of totals since start (closed connections included).
func (m *Server) accountMetrics(w *promWriter) {
	accs := m.b.Accounts()
	sort.SliceStable(accs, func(i, j int) bool { return accs[i].Connections > accs[j].Connections })
	if len(accs) > MaxAccountLabels {
		rest := broker.AccountInfo{Name: "_other"}
		for _, a := range accs[MaxAccountLabels:] {
			rest.Connections += a.Connections
			rest.Subscriptions += a.Subscriptions
			rest.InMsgs += a.InMsgs
			rest.InBytes += a.InBytes
			rest.OutMsgs += a.OutMsgs
			rest.OutBytes += a.OutBytes
			rest.TotalConnections += a.TotalConnections
			rest.SlowConsumers += a.SlowConsumers
		}
		accs = append(accs[:MaxAccountLabels:MaxAccountLabels], rest)
	}
	perAccount := []struct {
		name, kind, help string
		val              func(a *broker.AccountInfo) float64
	}{
		{"murmur_account_connections", "gauge", "Open client connections per account.", func(a *broker.AccountInfo) float64 { return float64(a.Connections) }},
		{"murmur_account_connections_total", "counter", "Client connections admitted into an account since start.", func(a *broker.AccountInfo) float64 { return float64(a.TotalConnections) }},
		{"murmur_account_subscriptions", "gauge", "Subscriptions in an account's index.", func(a *broker.AccountInfo) float64 { return float64(a.Subscriptions) }},
		{"murmur_account_in_msgs_total", "counter", "Messages received from an account's client connections, closed ones included.", func(a *broker.AccountInfo) float64 { return float64(a.InMsgs) }},
		{"murmur_account_in_bytes_total", "counter", "Payload bytes received from an account's client connections, closed ones included.", func(a *broker.AccountInfo) float64 { return float64(a.InBytes) }},
		{"murmur_account_out_msgs_total", "counter", "Messages delivered to an account's client connections, closed ones included.", func(a *broker.AccountInfo) float64 { return float64(a.OutMsgs) }},
		{"murmur_account_out_bytes_total", "counter", "Payload bytes delivered to an account's client connections, closed ones included.", func(a *broker.AccountInfo) float64 { return float64(a.OutBytes) }},
		{"murmur_account_slow_consumers_total", "counter", "Client connections of an account closed as slow consumers.", func(a *broker.AccountInfo) float64 { return float64(a.SlowConsumers) }},
	}
	for _, f := range perAccount {
		w.family(f.name, f.kind, f.help)
		for i := range accs {
			w.sample(f.name, f.val(&accs[i]), "account", accs[i].Name)
		}
	}
}

// promWriter writes the text exposition format.
type promWriter struct {
	buf    bytes.Buffer
	server string
}

func (w *promWriter) family(name, kind, help string) {
	w.buf.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n")
	w.buf.WriteString("# TYPE " + name + " " + kind + "\n")
}

func (w *promWriter) gauge(name, help string, v float64) {
	w.family(name, "gauge", help)
	w.sample(name, v)
}

func (w *promWriter) counter(name, help string, v float64) {
	w.family(name, "counter", help)
	w.sample(name, v)
}

// sample writes one line; labels are name, value pairs after "server".
func (w *promWriter) sample(name string, v float64, labels ...string) {
	w.buf.WriteString(name)
	w.buf.WriteString(`{server="`)
	w.buf.WriteString(escapeLabel(w.server))
	w.buf.WriteByte('"')
	for i := 0; i+1 < len(labels); i += 2 {
		w.buf.WriteString("," + labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
	}
	w.buf.WriteString("} ")
	w.buf.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	w.buf.WriteByte('\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
