package monitor_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/monitor"
)

// The /accstatz document as nats-server declares it (server/monitor.go
// AccountStatz, server/events.go AccountStat), decoded by its JSON names
// so that a renamed field fails here.
type (
	nsAccountStatz struct {
		ID       string          `json:"server_id"`
		Now      time.Time       `json:"now"`
		Accounts []nsAccountStat `json:"account_statz"`
	}
	nsAccountStat struct {
		Account       string      `json:"acc"`
		Name          string      `json:"name"`
		Conns         int         `json:"conns"`
		LeafNodes     int         `json:"leafnodes"`
		TotalConns    int         `json:"total_conns"`
		NumSubs       uint32      `json:"num_subscriptions"`
		Sent          nsDataStats `json:"sent"`
		Received      nsDataStats `json:"received"`
		SlowConsumers int64       `json:"slow_consumers"`
	}
	nsDataStats struct {
		Msgs  int64 `json:"msgs"`
		Bytes int64 `json:"bytes"`
	}
)

// accNames are the acc fields of a listing.
func accNames(stz nsAccountStatz) []string {
	var out []string
	for _, a := range stz.Accounts {
		out = append(out, a.Account)
	}
	return out
}

// threeAccounts are A (user a), B (user b) and C (no clients).
func threeAccounts() *broker.AuthOptions {
	return &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
		{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}},
		{Name: "C", Users: []broker.User{{Name: "c", Password: "c"}}},
	}}
}

// echoTraffic has nc subscribe to subject and publish n messages of size
// bytes to it, and waits until all n are back.
func echoTraffic(t *testing.T, nc *nats.Conn, subject string, n, size int) {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(strings.Repeat("m", size))
	for range n {
		if err := nc.Publish(subject, payload); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("message %d of %d on %s: %v", i+1, n, subject, err)
		}
	}
}

// TestAccountStatz: /accstatz lists the accounts with open connections by
// default, every account with unused=true, the named ones with acc=; the
// totals of a closed client stay with its account; /metrics has them as
// counters.
func TestAccountStatz(t *testing.T) {
	o := testOptions()
	o.Auth = threeAccounts()
	srv := started(t, newBrokerWith(t, o))
	na, nb := connect(t, srv, nats.UserInfo("a", "a")), connect(t, srv, nats.UserInfo("b", "b"))
	echoTraffic(t, na, "a.x", 5, 10)
	echoTraffic(t, nb, "b.x", 7, 20)
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	var stz nsAccountStatz
	// A reader counts what it read after delivering it: wait for the count.
	eventually(t, 5*time.Second, "B's messages counted", func() bool {
		getJSON(t, c, m, "/accstatz", &stz)
		return len(stz.Accounts) == 2 && stz.Accounts[1].Received.Msgs == 7
	})
	if got := accNames(stz); !slices.Equal(got, []string{"A", "B"}) || stz.ID != srv.ID() || stz.Now.IsZero() {
		t.Fatalf("accstatz: accounts %v, server_id %q, now %v", got, stz.ID, stz.Now)
	}
	wantB := nsAccountStat{
		Account: "B", Name: "B", Conns: 1, TotalConns: 1, NumSubs: 1,
		Sent: nsDataStats{7, 140}, Received: nsDataStats{7, 140},
	}
	if stz.Accounts[1] != wantB {
		t.Fatalf("accstatz B: %+v, want %+v", stz.Accounts[1], wantB)
	}

	nb.Close()
	eventually(t, 5*time.Second, "B's client to retire", func() bool {
		getJSON(t, c, m, "/accstatz", &stz)
		return slices.Equal(accNames(stz), []string{"A"})
	})
	getJSON(t, c, m, "/accstatz?unused=true", &stz)
	if got := accNames(stz); !slices.Equal(got, []string{"$G", "$SYS", "A", "B", "C"}) {
		t.Fatalf("accstatz?unused=true: %v", got)
	}
	wantB.Conns, wantB.TotalConns, wantB.NumSubs = 0, 0, 0
	if stz.Accounts[3] != wantB {
		t.Fatalf("accstatz B after its client closed: %+v, want %+v", stz.Accounts[2], wantB)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"acc=A,B", []string{"A"}},
		{"acc=B,C", nil},
		{"acc=C,B,A&unused=1", []string{"C", "B", "A"}},
		{"acc=B,nope,B&unused=true", []string{"B"}},
		{"acc=&unused=true", []string{"$G", "$SYS", "A", "B", "C"}},
	} {
		var got nsAccountStatz
		getJSON(t, c, m, "/accstatz?"+tc.query, &got)
		if !slices.Equal(accNames(got), tc.want) {
			t.Errorf("accstatz?%s: %v, want %v", tc.query, accNames(got), tc.want)
		}
	}
	_, raw := get(t, c, m, "/accstatz?acc=C")
	if !strings.Contains(string(raw), `"account_statz": []`) {
		t.Errorf("an empty listing is not an empty array: %s", raw)
	}
	if resp, body := get(t, c, m, "/accstatz?unused=maybe"); resp.StatusCode != 400 || !strings.Contains(string(body), "'unused'") {
		t.Errorf("unused=maybe: %d %s", resp.StatusCode, body)
	}

	// The method the system responder calls.
	if got := m.AccountStatz(monitor.AccountStatzOptions{Accounts: []string{"B"}, IncludeUnused: true}); len(got.Accounts) != 1 || got.Accounts[0].Received.Msgs != 7 {
		t.Errorf("AccountStatz(B): %+v", got.Accounts)
	}

	_, metrics := get(t, c, m, "/metrics")
	for _, line := range []string{
		"# TYPE murmur_account_in_msgs_total counter",
		"# TYPE murmur_account_connections_total counter",
		`murmur_account_in_msgs_total{server="` + srv.Name() + `",account="B"} 7`,
		`murmur_account_out_bytes_total{server="` + srv.Name() + `",account="B"} 140`,
		`murmur_account_connections_total{server="` + srv.Name() + `",account="B"} 1`,
		`murmur_account_connections{server="` + srv.Name() + `",account="B"} 0`,
		`murmur_account_slow_consumers_total{server="` + srv.Name() + `",account="B"} 0`,
	} {
		if !strings.Contains(string(metrics), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// startNATSServer runs the reference server with accounts A and B on
// random loopback ports until the test ends, and returns its client URL
// and monitoring base URL.
func startNATSServer(t *testing.T) (clientURL, httpURL string) {
	t.Helper()
	bin := testutil.NatsServer(t)
	conf := filepath.Join(t.TempDir(), "accounts.conf")
	const accounts = "accounts {\n  A { users = [{user: a, password: a}] }\n  B { users = [{user: b, password: b}] }\n}\n"
	if err := os.WriteFile(conf, []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	port, mport := testutil.FreePort(t), testutil.FreePort(t)
	cmd := exec.Command(bin, "-c", conf, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport))
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nats-server log:\n%s", out.String())
		}
	})
	httpURL = fmt.Sprintf("http://127.0.0.1:%d", mport)
	c := client(t)
	eventually(t, 10*time.Second, "nats-server to serve /healthz", func() bool {
		resp, err := c.Get(httpURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return fmt.Sprintf("nats://127.0.0.1:%d", port), httpURL
}

// accstatzSnapshot is one server's /accstatz entries of A and B, as
// decoded JSON objects, with what is known to differ removed.
type accstatzSnapshot struct {
	top     []string       // the document's own keys
	listed  []string       // the accounts listed by default, sorted
	entries map[string]any // acc: entry, from ?unused=true
}

// takeAccstatz reads /accstatz and /accstatz?unused=true at base.
func takeAccstatz(t *testing.T, base string) accstatzSnapshot {
	t.Helper()
	c := client(t)
	read := func(path string) map[string]any {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		return doc
	}
	var snap accstatzSnapshot
	def, all := read("/accstatz"), read("/accstatz?unused=true")
	for k := range def {
		snap.top = append(snap.top, k)
	}
	slices.Sort(snap.top)
	for _, e := range def["account_statz"].([]any) {
		snap.listed = append(snap.listed, e.(map[string]any)["acc"].(string))
	}
	slices.Sort(snap.listed)
	snap.entries = map[string]any{}
	for _, e := range all["account_statz"].([]any) {
		entry := e.(map[string]any)
		name := entry["acc"].(string)
		if name != "A" && name != "B" {
			continue // $G, and nats-server's $SYS
		}
		// nats-server's accounts hold its system service imports, which
		// Murmur's do not: num_subscriptions is compared on its own.
		delete(entry, "num_subscriptions")
		// Murmur does not count route traffic per account (no "routes").
		for _, dir := range []string{"sent", "received"} {
			delete(entry[dir].(map[string]any), "routes")
		}
		snap.entries[name] = entry
	}
	return snap
}

// received is the received msgs of acc in snap (-1: not there).
func received(snap accstatzSnapshot, acc string) float64 {
	e, _ := snap.entries[acc].(map[string]any)
	if e == nil {
		return -1
	}
	return e["received"].(map[string]any)["msgs"].(float64)
}

// TestAccountStatzMatchesNATSServer: the same scenario (accounts A and B,
// one client each echoing messages through its own subscription, then
// B's client closing) gives the same /accstatz fields and values on
// Murmur and on the real nats-server, but for num_subscriptions and the
// routes part (see takeAccstatz).
func TestAccountStatzMatchesNATSServer(t *testing.T) {
	nsURL, nsHTTP := startNATSServer(t)
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: threeAccounts().Accounts[:2]}
	srv := started(t, newBrokerWith(t, o))
	m := startMonitor(t, srv, monitor.Config{})
	servers := []struct{ name, url, http string }{
		{"nats-server", nsURL, nsHTTP},
		{"murmur", "nats://" + srv.Addrs()["tcp"].String(), "http://" + m.Addr().String()},
	}
	dial := func(url, user string) *nats.Conn {
		nc, err := nats.Connect(url, nats.UserInfo(user, user), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
		if err != nil {
			t.Fatalf("connect %s as %s: %v", url, user, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	var open, closed [2]accstatzSnapshot
	for i, s := range servers {
		na, nb := dial(s.url, "a"), dial(s.url, "b")
		echoTraffic(t, na, "a.x", 25, 16)
		echoTraffic(t, nb, "b.x", 40, 100)
		// Both count what a client sent after delivering it: wait for it.
		eventually(t, 5*time.Second, s.name+" to count the messages", func() bool {
			open[i] = takeAccstatz(t, s.http)
			return received(open[i], "A") == 25 && received(open[i], "B") == 40
		})
		nb.Close()
		eventually(t, 5*time.Second, s.name+" to close B's client", func() bool {
			closed[i] = takeAccstatz(t, s.http)
			b, _ := closed[i].entries["B"].(map[string]any)
			// Both reads after the close: the default listing is read first.
			return b != nil && b["conns"] == 0.0 && !slices.Contains(closed[i].listed, "B")
		})
	}
	for _, phase := range []struct {
		name string
		snap [2]accstatzSnapshot
	}{{"both open", open}, {"B closed", closed}} {
		ns, mm := phase.snap[0], phase.snap[1]
		if !slices.Equal(ns.top, mm.top) || !slices.Equal(ns.listed, mm.listed) || !reflect.DeepEqual(ns.entries, mm.entries) {
			t.Errorf("%s: /accstatz differs\nnats-server: keys %v, listed %v, %v\nmurmur:      keys %v, listed %v, %v",
				phase.name, ns.top, ns.listed, ns.entries, mm.top, mm.listed, mm.entries)
		}
	}
}
