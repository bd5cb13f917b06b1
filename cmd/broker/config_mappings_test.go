//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transform"
)

// mappingsConf maps with every function, in $G and in accounts, with
// sources that do not overlap (nats-server tries overlapping ones in no
// set order).
const mappingsConf = `
authorization { users: [ {user: a, password: a} ] }
mappings = {
  "foo": "bar"
  "orders.*.*": "orders.{{wildcard(2)}}.{{wildcard(1)}}"
  "t.*.>": "u.$1.>"
  "all.>": "every.>"
  "p.*": "p.{{partition(3,1)}}.$1"
  "pa.*.*": "pa.{{partition(5)}}.{{partition(7,2,1)}}"
  "s.*": "s.{{splitFromLeft(1,2)}}.{{splitFromRight(1,2)}}"
  "sl.*": "sl.{{sliceFromLeft(1,2)}}"
  "sr.*": "sr.{{sliceFromRight(1,2)}}"
  "sp.*": "sp.{{split(1,-)}}.x"
  "lr.*": "lr.{{left(1,2)}}.{{right(1,2)}}.{{ Left( 1, 9 ) }}"
  "z.*": "z.$0.{{wildcard(1)}}"
  "r.*": "r.{{random(1)}}.$1"
  "rest.*": [{dest: "rest.x.$1", weight: 0}]
  "drop": [{destination: "drop", weight: "0%"}]
  "east": [{dest: "east.only", weight: 100, cluster: "east"}]
  "one": {dest: "uno", weight: 100}
  "same": []
}
accounts {
  A: {
    users: [ {user: b, password: b} ]
    exports: [ {service: "svc.>"} ]
    maps { "foo": "a.foo", "svc.v1": "svc.v2" }
  }
  B: {
    users: [ {user: c, password: c} ]
    imports: [ {service: {account: A, subject: "svc.>"}} ]
  }
}
`

// published are the subjects observeMapped publishes in $G.
var published = []string{
	"foo", "orders.1.2", "t.x.y.z", "all.a.b.c", "p.abc", "pa.ab.cd", "s.abcde", "s.ab",
	"sl.abcde", "sr.abcde", "sp.a-b--c-", "sp.-", "lr.abcdef", "z.abc", "r.q", "rest.q",
	"drop", "east", "one", "same", "bar", "unmapped.x",
}

// TestMappingsAsNatsServer runs mappingsConf on Murmur and on nats-server
// 2.15: each publish arrives on the same subject (or, dropped, on none),
// an account's mappings are its own, and a service request takes the
// exporter's. Skipped without nats-server (fails when CI is set).
func TestMappingsAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	path := writeConf(t, t.TempDir(), mappingsConf)
	_, srv := startFromFile(t, path)
	ours := observeMapped(t, srv.ClientURL())
	theirs := observeMapped(t, startNatsServer(t, bin, path))
	if !reflect.DeepEqual(ours, theirs) {
		for i := range max(len(ours), len(theirs)) {
			o, n := at(ours, i), at(theirs, i)
			if o != n {
				t.Errorf("murmur %q, nats-server %q", o, n)
			}
		}
	}
	// Spot checks that the comparison compares something.
	for _, want := range []string{"foo -> bar", "orders.1.2 -> orders.2.1", "sp.- -> (nothing)", "drop -> (nothing)", "A: foo -> a.foo", "A: request svc.v1 reached svc.v2"} {
		if !contains(theirs, want) {
			t.Errorf("nats-server: no %q in %q", want, theirs)
		}
	}
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "(missing)"
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// observeMapped publishes each of published (then a marker) and lists
// "subject -> where it arrived"; then the same for account A, and a
// request from B to A's service.
func observeMapped(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	watch := func(who string, nc *nats.Conn, subjects []string) {
		sub, err := nc.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, s := range subjects {
			if err := nc.Publish(s, nil); err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish("marker", nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				m, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("%s: %s: %v", url, s, err)
				}
				if m.Subject == "marker" {
					break
				}
				got = append(got, m.Subject)
			}
			arrived := "(nothing)"
			if len(got) > 0 {
				arrived = strings.Join(got, " ")
			}
			out = append(out, who+s+" -> "+arrived)
		}
	}
	watch("", connect(t, url, nats.UserInfo("a", "a")), published)
	a := connect(t, url, nats.UserInfo("b", "b"))
	watch("A: ", a, []string{"foo", "orders.1.2"})
	if _, err := a.Subscribe("svc.>", func(m *nats.Msg) { _ = m.Respond([]byte(m.Subject)) }); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := connect(t, url, nats.UserInfo("c", "c")).Request("svc.v1", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: request: %v", url, err)
	}
	return append(out, "A: request svc.v1 reached "+string(m.Data))
}

// TestMappingsWeightedAsNatsServer: a 90/10 canary splits a thousand
// messages about so on both (each share within 5 standard deviations).
func TestMappingsWeightedAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	path := writeConf(t, t.TempDir(), `mappings { "canary": [{destination: "v1", weight: 90%}, {destination: "v2", weight: 10%}] }`)
	_, srv := startFromFile(t, path)
	for name, url := range map[string]string{"murmur": srv.ClientURL(), "nats-server": startNatsServer(t, bin, path)} {
		nc := connect(t, url)
		v1, err := nc.SubscribeSync("v1")
		if err != nil {
			t.Fatal(err)
		}
		v2, err := nc.SubscribeSync("v2")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		const n = 1000
		for range n {
			if err := nc.Publish("canary", nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		var c1, c2 int
		testutil.Eventually(t, 5*time.Second, name+": all "+fmt.Sprint(n)+" delivered", func() bool {
			q1, _, _ := v1.Pending()
			q2, _, _ := v2.Pending()
			c1, c2 = q1, q2
			return c1+c2 == n
		})
		if c2 < 100-5*10 || c2 > 100+5*10 {
			t.Errorf("%s: v1 %d, v2 %d of %d; want about 900 and 100", name, c1, c2, n)
		}
	}
}

// TestMappingsClusterAsNatsServer: on a broker of cluster east, east's
// destinations apply; a mapping scoped to another cluster keeps the
// subject.
func TestMappingsClusterAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	const maps = `mappings {
  "x.*": [{dest: "e.$1", weight: 100, cluster: "east"}, {dest: "w.$1", weight: 100, cluster: "west"}, {dest: "any.$1", weight: 100}]
  "y": [{dest: "yw", weight: 100, cluster: "west"}]
  "h": [{dest: "half", weight: 50, cluster: "east"}, {dest: "h", weight: 0, cluster: "east"}]
}
`
	conf := func(dir string) string {
		return writeConf(t, dir, maps+fmt.Sprintf("cluster { name: east, listen: \"127.0.0.1:%d\" }\n", testutil.FreePort(t)))
	}
	_, srv := startFromFile(t, conf(t.TempDir()))
	for name, url := range map[string]string{"murmur": srv.ClientURL(), "nats-server": startNatsServer(t, bin, conf(t.TempDir()))} {
		nc := connect(t, url)
		all, err := nc.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		for subj, want := range map[string]string{"x.1": "e.1", "y": "y"} {
			if err := nc.Publish(subj, nil); err != nil {
				t.Fatal(err)
			}
			m, err := all.NextMsg(5 * time.Second)
			if err != nil || m.Subject != want {
				t.Errorf("%s: %s arrived on %v (%v), want %s", name, subj, m, err, want)
			}
		}
	}
}

// badMappings are mappings nats-server -t refuses; Murmur refuses each
// at the same line, naming the mapping, with nats-server's reason.
var badMappings = []string{
	`"a.*": "b.$2"`,
	`"a.*": "b.{{wildcard()}}"`,
	`"a.*": "b.{{wildcard(1,2)}}"`,
	`"a.*": "b.{{WILDCARD(1)}}"`,
	`"a.*": "b.{{partition(x)}}"`,
	`"a.*": "b.{{partition(3,2)}}"`,
	`"a.*": "b.{{splitFromLeft(1)}}"`,
	`"a.*": "b.{{split(1,a b)}}"`,
	`"a.*": "b.{{random(1,2)}}"`,
	`"a.*": "b.{{left(1)}}"`,
	`"a": "b.$1"`,
	`"a.>": "b"`,
	`"a.*": "b.*"`,
	`"a.*": "b..c"`,
	`"a.*": "b.$1 c"`,
	`"a.*": "b.{{foo}}"`,
	`"a..b": "c"`,
	`"a": 5`,
	`"a": ["b"]`,
	`"a": [{dest: "b", weight: 101}]`,
	`"a": [{dest: "b", weight: -1}]`,
	`"a": [{dest: "b", weight: "x"}]`,
	`"a": [{dest: "b", weight: "101%"}]`,
	`"a": [{dest: "b", weight: 50.5}]`,
	`"a": [{dest: "b", weight: 60}, {dest: "c", weight: 50}]`,
	`"a": [{dest: "b", weight: 50}, {dest: "b", weight: 10}]`,
	`"a": [{dest: "b", weight: 50, foo: 1}]`,
	`"a": [{dest: "b", weight: 60, cluster: "e"}, {dest: "c", weight: 60, cluster: "e"}]`,
	`"a": [{dest: "b"}]`,
}

// TestMappingErrorsAsNatsServer: both refuse each of badMappings; ours
// reads file:line: mappings.KEY...: reason, and nats-server's refusal
// holds the same reason.
func TestMappingErrorsAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	for _, line := range badMappings {
		path := writeConf(t, t.TempDir(), "mappings = {\n  "+line+"\n}\n")
		_, err := parseFlags([]string{"-c", path}, io.Discard)
		if err == nil {
			t.Errorf("%s: accepted", line)
			continue
		}
		rest, ok := strings.CutPrefix(err.Error(), path+":2: mappings.")
		_, reason, found := strings.Cut(rest, ": ")
		if !ok || !found {
			t.Errorf("%s: %v, want %s:2: mappings.KEY: reason", line, err, path)
			continue
		}
		out, err := exec.Command(bin, "-t", "-c", path).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Errorf("%s: nats-server -t: %v (%s)", line, err, out)
			continue
		}
		if !strings.Contains(string(out), reason) {
			t.Errorf("%s: our reason %q is not nats-server's:\n%s", line, reason, out)
		}
	}
}

// TestConfigMappings: the file's mappings reach the options as written,
// weights in either form, the global account's and an account's.
func TestConfigMappings(t *testing.T) {
	cfg, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), `
mappings {
  foo: bar
  "canary": [{destination: "v1", weight: 90%}, {dest: "v2", weight: 10, cluster: east}]
  one: {Dest: uno, WEIGHT: "50"}
}
accounts { A: { users: [{user: a, password: a}], mappings { x: y } } }
`)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Mapping{
		{Source: "foo", Dests: []transform.Dest{{Subject: "bar", Weight: 100}}},
		{Source: "canary", Dests: []transform.Dest{{Subject: "v1", Weight: 90}, {Subject: "v2", Weight: 10, Cluster: "east"}}},
		{Source: "one", Dests: []transform.Dest{{Subject: "uno", Weight: 50}}},
	}
	if !reflect.DeepEqual(cfg.opts.Mappings, want) {
		t.Errorf("mappings %+v\nwant %+v", cfg.opts.Mappings, want)
	}
	if got := cfg.opts.Auth.Accounts[0].Mappings; !reflect.DeepEqual(got, []broker.Mapping{{Source: "x", Dests: []transform.Dest{{Subject: "y", Weight: 100}}}}) {
		t.Errorf("account mappings %+v", got)
	}
	// nats-server takes an empty destination and fails at the first
	// message it maps; Murmur refuses it.
	path := writeConf(t, t.TempDir(), "mappings {\n  \"a.*\": \"\"\n}\n")
	if _, err := parseFlags([]string{"-c", path}, io.Discard); err == nil || err.Error() != path+":2: mappings.a.*: "+transform.ErrEmptyDestination.Error() {
		t.Errorf("empty destination: %v", err)
	}
}

// TestReloadMappings: a reload of the file replaces the running
// broker's mappings; a file with a bad one is refused whole, and the
// mappings in force stay.
func TestReloadMappings(t *testing.T) {
	dir := t.TempDir()
	cfg, srv := startFromFile(t, writeConf(t, dir, `mappings { foo: bar }`))
	nc := connect(t, srv.ClientURL())
	all, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	arrives := func(subj, want string) {
		t.Helper()
		if err := nc.Publish(subj, nil); err != nil {
			t.Fatal(err)
		}
		m, err := all.NextMsg(5 * time.Second)
		if err != nil || m.Subject != want {
			t.Fatalf("%s arrived on %v (%v), want %s", subj, m, err, want)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	arrives("foo", "bar")
	writeConf(t, dir, `mappings { foo: baz, "q.*": "r.$1" }`)
	cfg = reload(cfg, srv, nil, zap.NewNop())
	arrives("foo", "baz")
	arrives("q.1", "r.1")
	writeConf(t, dir, `mappings { foo: "b.$1" }`)
	if next := reload(cfg, srv, nil, zap.NewNop()); next != cfg {
		t.Fatal("a bad mapping reloaded")
	}
	arrives("foo", "baz")
	if filepath.Base(cfg.cli.configFile) != "murmur.conf" {
		t.Fatalf("config file %s", cfg.cli.configFile)
	}
}

// TestMappingLiteralPartitionAsNatsServer: a partition of a source
// without wildcards, its only mapping, lands where nats-server puts it
// (nats-server hashes no tokens there: see docs/mappings.md).
func TestMappingLiteralPartitionAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	path := writeConf(t, t.TempDir(), `mappings { "lit": "lit.{{partition(7)}}" }`)
	_, srv := startFromFile(t, path)
	arrived := map[string]string{}
	for name, url := range map[string]string{"murmur": srv.ClientURL(), "nats-server": startNatsServer(t, bin, path)} {
		nc := connect(t, url)
		all, err := nc.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("lit", nil); err != nil {
			t.Fatal(err)
		}
		m, err := all.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		arrived[name] = m.Subject
	}
	if arrived["murmur"] != arrived["nats-server"] {
		t.Fatalf("murmur %s, nats-server %s", arrived["murmur"], arrived["nats-server"])
	}
}

// TestMappingCLIAsTransform: `nats server mapping SRC DEST SUBJECT`
// (which runs nats-server's transform code in the CLI) and
// transform.Parse agree on the subject, or on the refusal. The CLI hands
// a source without wildcards its tokens, as Parse does (a broker does
// not: see TestMappingLiteralPartitionAsNatsServer).
func TestMappingCLIAsTransform(t *testing.T) {
	cli := testutil.Tool(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
	for _, c := range [][3]string{
		{"orders.*.*", "orders.{{wildcard(2)}}.{{wildcard(1)}}", "orders.1.2"},
		{"a.*.>", "b.$1.>", "a.x.y.z"},
		{"p.*", "p.{{partition(3,1)}}.$1", "p.abc"},
		{"p.*.*", "p.{{partition(1000)}}.{{partition(17,2,1)}}", "p.key.other"},
		{"p", "p.{{partition(3)}}", "p"},
		{"s.*", "{{splitFromLeft(1,2)}}.{{splitFromRight(1,2)}}.{{sliceFromLeft(1,2)}}.{{sliceFromRight(1,2)}}", "s.abcdefg"},
		{"s.*", "{{ SplitFromLeft( 1, 9 ) }}.{{left(1,3)}}.{{right(1,3)}}", "s.abcdefg"},
		{"sp.*", "sp.{{split(1,-)}}.{{split(1,ab)}}", "sp.-xab-y--"},
		{"z.*", "z.$0.{{wildcard(-1)}}.$x", "z.q"},
		{"a.*", "b.{{{wildcard(1)}}}.{{foo(1)}}{{wildcard(1)}}", "a.x"},
		{"a.*", "b.$2", "a.x"},
		{"a.*", "b.{{partition(3,x)}}", "a.x"},
		{"a.*", "b.{{splitFromLeft(1)}}", "a.x"},
		{"a.*", "b.{{WILDCARD(1)}}", "a.x"},
		{"a", "b.{{split(1,-)}}", "a"},
		// Not "b..c": the CLI skips the destination check a server's
		// config makes first (it says "invalid subject" there, nats-server
		// -t and Parse "invalid transform").
	} {
		out, err := exec.Command(cli, "server", "mapping", c[0], c[1], c[2]).CombinedOutput()
		theirs := strings.TrimSpace(string(out))
		if err != nil {
			theirs = strings.TrimPrefix(theirs, "nats: error: ")
		}
		var ours string
		tr, perr := transform.Parse(c[0], c[1])
		if perr != nil {
			ours = perr.Error()
		} else {
			ours = tr.Subject(c[2])
		}
		if ours != theirs {
			t.Errorf("%s -> %s on %s: ours %q, nats server mapping %q", c[0], c[1], c[2], ours, theirs)
		}
	}
}
