//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// jsAccountsConf has accounts with and without JetStream, with limits,
// and a system account.
const jsAccountsConf = `listen: 127.0.0.1:%d
http: 127.0.0.1:%d
server_name: side
jetstream { store_dir: %q }
accounts {
  A: { jetstream: { max_mem: 1K, max_file: 2K, max_streams: 2, max_consumers: 1, max_ack_pending: 7 }, users: [{user: a, password: a}] }
  B: { users: [{user: b, password: b}] }
  C: { jetstream: enabled, users: [{user: c, password: c}] }
  D: { jetstream: { max_bytes_required: true, store_max_stream_bytes: 1000, memory_max_stream_bytes: 500 }, users: [{user: d, password: d}] }
  E: { jetstream: disabled, users: [{user: e, password: e}] }
  SYS: { users: [{user: sys, password: sys}] }
}
system_account: SYS
`

// jsProc is one binary running jsAccountsConf.
type jsProc struct {
	name       string
	port, http int
}

func startJSProc(t *testing.T, bin, tmpl string, extra ...string) *jsProc {
	t.Helper()
	p := &jsProc{name: filepath.Base(bin), port: testutil.FreePort(t), http: testutil.FreePort(t)}
	dir := t.TempDir()
	conf := filepath.Join(dir, "js.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(tmpl, p.port, p.http, filepath.Join(dir, "store"))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-c", conf}, extra...)...)
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, log.String())
		}
	})
	testutil.Eventually(t, 15*time.Second, p.name+" clients and /jsz", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err != nil {
			return false
		}
		c.Close()
		_, err = p.get("/jsz")
		return err == nil
	})
	return p
}

func (p *jsProc) get(path string) (map[string]any, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p.http, path))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", path, resp.Status)
	}
	var v map[string]any
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

func (p *jsProc) connect(t *testing.T, user string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", p.port), nats.UserInfo(user, user))
	if err != nil {
		t.Fatalf("%s: connect %s: %v", p.name, user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// info reads the INFO line a new connection gets.
func (p *jsProc) info(t *testing.T) map[string]any {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "INFO ")), &v); err != nil {
		t.Fatalf("%s: INFO %q: %v", p.name, line, err)
	}
	return v
}

// answer is a JetStream reply: its err_code (0: none) and the document.
func answer(t *testing.T, nc *nats.Conn, subject, body string) (int, map[string]any) {
	t.Helper()
	m, err := nc.Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var v map[string]any
	if err := json.Unmarshal(m.Data, &v); err != nil {
		t.Fatalf("%s: %q: %v", subject, m.Data, err)
	}
	if e, ok := v["error"].(map[string]any); ok {
		code, _ := e["err_code"].(float64)
		return int(code), v
	}
	return 0, v
}

// TestJetStreamAccountsSideBySide runs the same accounts configuration on
// Murmur and nats-server 2.15 and compares: the INFO flag, 10039 in an
// account without JetStream, the per-account limits refused with the
// same codes, $JS.API.INFO's limits, and the keys of /jsz, of the /varz
// jetstream block and of the JSZ system request.
func TestJetStreamAccountsSideBySide(t *testing.T) {
	ours := startJSProc(t, testutil.BrokerBinary(t), jsAccountsConf, "--gossip_port", "0")
	theirs := startJSProc(t, testutil.NatsServer(t), jsAccountsConf)
	procs := []*jsProc{ours, theirs}

	for _, p := range procs {
		if js, _ := p.info(t)["jetstream"].(bool); !js {
			t.Errorf("%s: INFO has no \"jetstream\": true", p.name)
		}
	}

	big := strings.Repeat("x", 600)
	steps := []struct{ user, subject, body string }{
		{"b", "$JS.API.INFO", ""},
		{"b", "$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["x"]}`},
		{"b", "$JS.API.STREAM.NAMES", ""},
		{"b", "$JS.API.CONSUMER.INFO.X.c", ""},
		{"a", "$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["x"],"storage":"memory"}`},
		{"a", "$JS.API.STREAM.CREATE.Y", `{"name":"Y","subjects":["y"],"max_bytes":4096}`},
		{"a", "$JS.API.STREAM.CREATE.Y", `{"name":"Y","subjects":["y"],"storage":"memory","max_bytes":1001}`},
		{"a", "$JS.API.STREAM.CREATE.Y", `{"name":"Y","subjects":["y"],"max_bytes":1500}`},
		{"a", "$JS.API.STREAM.UPDATE.Y", `{"name":"Y","subjects":["y"],"max_bytes":2001}`},
		{"a", "$JS.API.STREAM.CREATE.Z", `{"name":"Z","subjects":["z"]}`},
		{"a", "$JS.API.CONSUMER.CREATE.X.c1", `{"stream_name":"X","config":{"name":"c1","ack_policy":"explicit","max_ack_pending":8}}`},
		{"a", "$JS.API.CONSUMER.CREATE.X.c1", `{"stream_name":"X","config":{"name":"c1","ack_policy":"explicit"}}`},
		{"a", "$JS.API.CONSUMER.CREATE.X.c2", `{"stream_name":"X","config":{"name":"c2"}}`},
		{"a", "x", strings.Repeat("x", 500)},
		{"a", "x", big},
		{"c", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"c", "s.a", "one"},
		{"c", "$JS.API.CONSUMER.CREATE.S.d", `{"stream_name":"S","config":{"durable_name":"d"}}`},
		{"c", "$JS.API.STREAM.CREATE.S2", `{"name":"S2","subjects":["s2"],"max_bytes":10000000000}`},
		{"d", "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"]}`},
		{"d", "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"max_bytes":1001}`},
		{"d", "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"storage":"memory","max_bytes":501}`},
		{"d", "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"max_bytes":1000}`},
		{"e", "$JS.API.INFO", ""},
	}
	conns := map[*jsProc]map[string]*nats.Conn{}
	for _, p := range procs {
		conns[p] = map[string]*nats.Conn{}
		for _, u := range []string{"a", "b", "c", "d", "e", "sys"} {
			conns[p][u] = p.connect(t, u)
		}
	}
	for _, s := range steps {
		want, _ := answer(t, conns[theirs][s.user], s.subject, s.body)
		got, doc := answer(t, conns[ours][s.user], s.subject, s.body)
		if got != want {
			t.Errorf("%s %s %.60s: err_code %d, nats-server %d (%v)", s.user, s.subject, s.body, got, want, doc)
		}
	}

	// The consumer created under the limit got the limit as its default.
	for _, p := range procs {
		_, ci := answer(t, conns[p]["a"], "$JS.API.CONSUMER.INFO.X.c1", "")
		if cfg, _ := ci["config"].(map[string]any); cfg["max_ack_pending"] != float64(7) {
			t.Errorf("%s: c1 max_ack_pending %v, want the account's 7: %v", p.name, cfg["max_ack_pending"], ci)
		}
	}
	var infos []map[string]any
	for _, p := range procs {
		_, ai := answer(t, conns[p]["a"], "$JS.API.INFO", "")
		infos = append(infos, ai)
	}
	for _, k := range []string{"limits", "streams", "consumers", "reserved_memory", "reserved_storage"} {
		if !reflect.DeepEqual(infos[0][k], infos[1][k]) {
			t.Errorf("$JS.API.INFO %s: murmur %v, nats-server %v", k, infos[0][k], infos[1][k])
		}
	}

	// /jsz, field by field.
	var docs []map[string]any
	for _, p := range procs {
		d, err := p.get("/jsz?accounts=true&streams=true&consumers=true&config=true")
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	sameKeys(t, "/jsz", docs[0], docs[1], jszOnly)
	for _, k := range []string{"accounts", "streams", "consumers", "total", "reserved_memory", "reserved_storage"} {
		if !reflect.DeepEqual(docs[0][k], docs[1][k]) {
			t.Errorf("/jsz %s: murmur %v, nats-server %v", k, docs[0][k], docs[1][k])
		}
	}
	accs := func(d map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, a := range d["account_details"].([]any) {
			am := a.(map[string]any)
			out[am["name"].(string)] = am
		}
		return out
	}
	oa, ta := accs(docs[0]), accs(docs[1])
	if !reflect.DeepEqual(mapKeys(oa), []string{"A", "C", "D"}) || !reflect.DeepEqual(mapKeys(ta), []string{"A", "C", "D"}) {
		t.Fatalf("/jsz accounts: murmur %v, nats-server %v", mapKeys(oa), mapKeys(ta))
	}
	for _, name := range []string{"A", "C"} {
		sameKeys(t, "/jsz account "+name, oa[name], ta[name], jszOnly)
		for _, k := range []string{"reserved_memory", "reserved_storage"} {
			if oa[name][k] != ta[name][k] {
				t.Errorf("/jsz account %s %s: murmur %v, nats-server %v", name, k, oa[name][k], ta[name][k])
			}
		}
		os, ts := oa[name]["stream_detail"].([]any), ta[name]["stream_detail"].([]any)
		if len(os) != len(ts) || len(os) == 0 {
			t.Fatalf("/jsz account %s: %d streams, nats-server %d", name, len(os), len(ts))
		}
		byName := map[string]map[string]any{}
		for _, x := range ts { // nats-server lists them in map order
			byName[x.(map[string]any)["name"].(string)] = x.(map[string]any)
		}
		for _, x := range os {
			o := x.(map[string]any)
			sameKeys(t, "/jsz stream", o, byName[o["name"].(string)], jszOnly)
		}
	}
	cd := func(a map[string]any) map[string]any { // stream S's consumer
		for _, x := range a["stream_detail"].([]any) {
			if sd := x.(map[string]any); sd["name"] == "S" {
				return sd["consumer_detail"].([]any)[0].(map[string]any)
			}
		}
		t.Fatalf("no stream S in %v", a)
		return nil
	}
	sameKeys(t, "/jsz consumer", cd(oa["C"]), cd(ta["C"]), jszOnly)

	// Bad query parameters: 400, nats-server's text.
	for _, q := range []string{"offset=x", "limit=x", "accounts=maybe", "consumers=2x"} {
		_, e1 := ours.get("/jsz?" + q)
		_, e2 := theirs.get("/jsz?" + q)
		if e1 == nil || e2 == nil {
			t.Errorf("/jsz?%s: murmur %v, nats-server %v, want 400 from both", q, e1, e2)
		}
	}

	// /varz's jetstream block.
	var blocks []map[string]any
	for _, p := range procs {
		v, err := p.get("/varz")
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, v["jetstream"].(map[string]any))
	}
	sameKeys(t, "/varz jetstream", blocks[0], blocks[1], jszOnly)

	// $SYS.REQ.SERVER.PING.JSZ, as `nats server report jetstream` sends it.
	var sys []map[string]any
	for _, p := range procs {
		m, err := conns[p]["sys"].Request("$SYS.REQ.SERVER.PING.JSZ", []byte(`{"accounts":true}`), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: JSZ: %v", p.name, err)
		}
		var v map[string]any
		if err := json.Unmarshal(m.Data, &v); err != nil {
			t.Fatal(err)
		}
		if srv, _ := v["server"].(map[string]any); srv["jetstream"] != true {
			t.Errorf("%s: JSZ server block %v, want jetstream true", p.name, srv)
		}
		sys = append(sys, v["data"].(map[string]any))
	}
	sameKeys(t, "JSZ data", sys[0], sys[1], jszOnly)
	if sys[0]["total"] != float64(3) {
		t.Errorf("JSZ total %v, want 3", sys[0]["total"])
	}

	// The nats CLI's JetStream report reads it.
	cli := testutil.Tool(t, "nats", testutil.InstallNatsCLI)
	out, err := exec.Command(cli, "-s", fmt.Sprintf("nats://127.0.0.1:%d", ours.port), "--user", "sys", "--password", "sys",
		"server", "report", "jetstream").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "JetStream Summary") || !strings.Contains(string(out), "side") {
		t.Errorf("nats server report jetstream: %v\n%s", err, out)
	}
}

// jszOnly are the /jsz keys one side has, with why.
var jszOnly = map[string]string{
	"limits": "nats-server's server-wide request limits (default_max_consumers); Murmur has none",
	"strict": "nats-server's strict API decoding flag; Murmur's decoder is lenient",
}

// sameKeys compares the keys of two documents (one level; nested objects
// of the same key are compared too, but not lists and not "config" or
// "state" of a stream, whose fields belong to the stream API's shapes).
func sameKeys(t *testing.T, where string, a, b map[string]any, only map[string]string) {
	t.Helper()
	for _, k := range keyDiff(a, b) {
		if only[k] == "" {
			t.Errorf("%s: key %q only in murmur", where, k)
		}
	}
	for _, k := range keyDiff(b, a) {
		if only[k] == "" {
			t.Errorf("%s: key %q only in nats-server", where, k)
		}
	}
	for k, va := range a {
		na, ok := va.(map[string]any)
		nb, ok2 := b[k].(map[string]any)
		if !ok || !ok2 || (where == "/jsz stream" || where == "/jsz consumer") && (k == "config" || k == "state") {
			continue
		}
		sameKeys(t, where+"."+k, na, nb, only)
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const jsDomainConf = `listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q, domain: hub }
`

// TestJetStreamDomainSideBySide: with a domain, nats.go's WithDomain
// client reaches the API on $JS.hub.API.>, and account info, the PubAck,
// /jsz and /varz name the domain, on Murmur as on nats-server.
func TestJetStreamDomainSideBySide(t *testing.T) {
	for _, p := range []*jsProc{
		startJSProc(t, testutil.BrokerBinary(t), jsDomainConf, "--gossip_port", "0"),
		startJSProc(t, testutil.NatsServer(t), jsDomainConf),
	} {
		nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", p.port))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := njs.NewWithDomain(nc, "hub")
		if err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
			t.Fatalf("%s: create over the domain: %v", p.name, err)
		}
		ack, err := js.Publish(c, "s", []byte("x"))
		if err != nil || ack.Domain != "hub" || ack.Sequence != 1 {
			t.Errorf("%s: PubAck %+v (%v), want domain hub", p.name, ack, err)
		}
		ai, err := js.AccountInfo(c)
		if err != nil || ai.Domain != "hub" || ai.Streams != 1 {
			t.Errorf("%s: account info %+v (%v)", p.name, ai, err)
		}
		if code, doc := answer(t, nc, "$JS.API.INFO", ""); code != 0 || doc["domain"] != "hub" {
			t.Errorf("%s: $JS.API.INFO without the prefix: %d %v", p.name, code, doc)
		}
		jsz, err := p.get("/jsz")
		if err != nil {
			t.Fatal(err)
		}
		if cfg, _ := jsz["config"].(map[string]any); cfg["domain"] != "hub" {
			t.Errorf("%s: /jsz config %v, want domain hub", p.name, cfg)
		}
		v, err := p.get("/varz")
		if err != nil {
			t.Fatal(err)
		}
		if cfg, _ := v["jetstream"].(map[string]any)["config"].(map[string]any); cfg["domain"] != "hub" {
			t.Errorf("%s: /varz jetstream.config %v, want domain hub", p.name, cfg)
		}
	}
}
