package monitor_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/murmurmq/murmur/monitor"
)

// TestBadParamsAre400 sends malformed query parameters to every endpoint
// that takes them and expects nats-server 2.15's status and reason, byte
// for byte (the texts were checked against a running nats-server).
func TestBadParamsAre400(t *testing.T) {
	srv := startBroker(t, "params")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	const (
		intErr  = `Error decoding int for '%s': strconv.Atoi: parsing "%s": %s`
		boolErr = `Error decoding boolean for '%s': strconv.ParseBool: parsing "%s": invalid syntax`
		syntax  = "invalid syntax"
		rng     = "value out of range"
	)
	cases := []struct{ path, want string }{
		// /connz
		{"/connz?limit=99999999999999999999", fmt.Sprintf(intErr, "limit", "99999999999999999999", rng)},
		{"/connz?limit=abc", fmt.Sprintf(intErr, "limit", "abc", syntax)},
		{"/connz?limit=+5", fmt.Sprintf(intErr, "limit", " 5", syntax)}, // '+' is a space
		{"/connz?offset=x", fmt.Sprintf(intErr, "offset", "x", syntax)},
		{"/connz?offset=1.5", fmt.Sprintf(intErr, "offset", "1.5", syntax)},
		{"/connz?cid=x", `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "x": invalid syntax`},
		{"/connz?cid=-1", `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "-1": invalid syntax`},
		{"/connz?cid=18446744073709551616", `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "18446744073709551616": value out of range`},
		{"/connz?sort=nope", "invalid sorting option: nope"},
		{"/connz?sort=CID", "invalid sorting option: CID"},
		{"/connz?sort=stop", "sort by stop only valid on closed connections"},
		{"/connz?state=all&sort=reason", "sort by reason only valid on closed connections"},
		{"/connz?state=bogus", "Error decoding state for bogus"},
		{"/connz?subs=maybe", fmt.Sprintf(boolErr, "subs", "maybe")},
		{"/connz?subs=yes", fmt.Sprintf(boolErr, "subs", "yes")},
		{"/connz?auth=x", fmt.Sprintf(boolErr, "auth", "x")},
		// Several bad: the first in nats-server's order (auth, subs,
		// offset, limit, cid, state, then sort) is reported.
		{"/connz?sort=nope&state=bogus&cid=x&limit=y&offset=z&subs=s&auth=a", fmt.Sprintf(boolErr, "auth", "a")},
		{"/connz?sort=nope&state=bogus&cid=x&limit=y&offset=z&subs=s", fmt.Sprintf(boolErr, "subs", "s")},
		{"/connz?sort=nope&state=bogus&cid=x&limit=y&offset=z", fmt.Sprintf(intErr, "offset", "z", syntax)},
		{"/connz?sort=nope&state=bogus&cid=x&limit=y", fmt.Sprintf(intErr, "limit", "y", syntax)},
		{"/connz?sort=nope&state=bogus&cid=x", `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "x": invalid syntax`},
		{"/connz?sort=nope&state=bogus", "Error decoding state for bogus"},
		// /subsz and its alias
		{"/subsz?test=a..b", "invalid test subject, must be valid publish subject: a..b"},
		{"/subsz?test=foo.*", "invalid test subject, must be valid publish subject: foo.*"},
		{"/subsz?test=foo.>", "invalid test subject, must be valid publish subject: foo.>"},
		{"/subsz?limit=x", fmt.Sprintf(intErr, "limit", "x", syntax)},
		{"/subsz?limit=99999999999999999999", fmt.Sprintf(intErr, "limit", "99999999999999999999", rng)},
		{"/subsz?offset=x", fmt.Sprintf(intErr, "offset", "x", syntax)},
		{"/subsz?subs=maybe", fmt.Sprintf(boolErr, "subs", "maybe")},
		{"/subsz?subs=detail", fmt.Sprintf(boolErr, "subs", "detail")}, // detail is connz/routez only
		{"/subsz?test=a..b&limit=x&subs=y", fmt.Sprintf(boolErr, "subs", "y")},
		{"/subsz?test=a..b&limit=x", fmt.Sprintf(intErr, "limit", "x", syntax)},
		{"/subscriptionsz?subs=nope", fmt.Sprintf(boolErr, "subs", "nope")},
		// /routez, /leafz, /gatewayz
		{"/routez?subs=maybe", fmt.Sprintf(boolErr, "subs", "maybe")},
		{"/leafz?subs=x", fmt.Sprintf(boolErr, "subs", "x")},
		{"/gatewayz?subs=x", fmt.Sprintf(boolErr, "subs", "x")},
		{"/gatewayz?accs=x", fmt.Sprintf(boolErr, "accs", "x")},
		// /healthz flags
		{"/healthz?js-enabled=x", fmt.Sprintf(boolErr, "js-enabled", "x")},
		{"/healthz?js-enabled-only=maybe", fmt.Sprintf(boolErr, "js-enabled-only", "maybe")},
		{"/healthz?js-server-only=x", fmt.Sprintf(boolErr, "js-server-only", "x")},
		{"/healthz?js-meta-only=x", fmt.Sprintf(boolErr, "js-meta-only", "x")},
		{"/healthz?details=x", fmt.Sprintf(boolErr, "details", "x")},
	}
	for _, tc := range cases {
		resp, body := get(t, c, m, tc.path)
		if resp.StatusCode != 400 || string(body) != tc.want {
			t.Errorf("GET %s: %d %q, want 400 %q", tc.path, resp.StatusCode, body, tc.want)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
	}
}

// TestHealthzBadRequest checks the JSON document /healthz answers, with
// status 400, for a stream without an account or a consumer without a
// stream, with and without details (nats-server's shapes).
func TestHealthzBadRequest(t *testing.T) {
	srv := startBroker(t, "healthz-params")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	const (
		noAccount = `"account" must not be empty when checking stream health`
		noStream  = `"stream" must not be empty when checking consumer health`
	)
	cases := []struct {
		path string
		want monitor.Healthz
	}{
		{"/healthz?stream=s", monitor.Healthz{Status: "error", Error: noAccount}},
		{"/healthz?stream=s&consumer=c", monitor.Healthz{Status: "error", Error: noAccount}},
		{"/healthz?account=A&consumer=c", monitor.Healthz{Status: "error", Error: noStream}},
		{"/healthz?consumer=c&details=false", monitor.Healthz{Status: "error", Error: noStream}},
		{"/healthz?stream=s&details=true", monitor.Healthz{Status: "error", Errors: []monitor.HealthzError{{Type: "BAD_REQUEST", Error: noAccount}}}},
		{"/healthz?consumer=c&details=1", monitor.Healthz{Status: "error", Errors: []monitor.HealthzError{{Type: "BAD_REQUEST", Error: noStream}}}},
	}
	for _, tc := range cases {
		resp, body := get(t, c, m, tc.path)
		var got monitor.Healthz
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("GET %s: %d, decode: %v\n%s", tc.path, resp.StatusCode, err, body)
			continue
		}
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GET %s: %d %s %+v, want 400 application/json %+v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), got, tc.want)
		}
	}
}

// TestGoodParamsStillServed checks the valid spellings nats-server
// accepts: empty values take the defaults, negative offset and limit are
// clamped, flags take every strconv.ParseBool spelling, state is
// case-insensitive, subs=detail still lists on /connz.
func TestGoodParamsStillServed(t *testing.T) {
	srv := startBroker(t, "params-ok")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	nc := connect(t, srv)
	if _, err := nc.SubscribeSync("params.ok"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	connect(t, srv).Close()
	var closed monitor.Connz
	eventually(t, 5*time.Second, "the closed connection in connz?state=closed", func() bool {
		getJSON(t, c, m, "/connz?state=closed", &closed)
		return closed.Total == 1
	})

	connz := []struct {
		path          string
		total, offset int
		limit         int
		subs          bool // the open connection lists its subject
	}{
		{"/connz?limit=&offset=&cid=&state=&subs=&auth=&sort=", 1, 0, 1024, false},
		{"/connz?limit=-5&offset=-1", 1, 0, 1024, false},
		{"/connz?limit=%2B5", 1, 0, 5, false},
		{"/connz?limit=1&limit=x", 1, 0, 1, false}, // the first value counts
		{"/connz?LIMIT=x", 1, 0, 1024, false},      // names are case-sensitive
		{"/connz?cid=0", 1, 0, 1024, false},
		{"/connz?sort=rtt", 1, 0, 1024, false},
		{"/connz?state=closed&sort=stop", 1, 0, 1024, false},
		{"/connz?state=CLOSED&sort=reason", 1, 0, 1024, false},
		{"/connz?state=Any", 2, 0, 1024, false},
		{"/connz?state=OPEN", 1, 0, 1024, false},
		{"/connz?auth=true", 1, 0, 1024, false},
		{"/connz?subs=0", 1, 0, 1024, false},
		{"/connz?subs=F", 1, 0, 1024, false},
		{"/connz?subs=1", 1, 0, 1024, true},
		{"/connz?subs=T", 1, 0, 1024, true},
		{"/connz?subs=TRUE", 1, 0, 1024, true},
		{"/connz?subs=detail", 1, 0, 1024, true},
		{"/connz?subs=DETAIL", 1, 0, 1024, true},
	}
	for _, tc := range connz {
		var cz monitor.Connz
		getJSON(t, c, m, tc.path, &cz)
		if cz.Total != tc.total || cz.Offset != tc.offset || cz.Limit != tc.limit {
			t.Errorf("GET %s: total %d offset %d limit %d, want %d %d %d", tc.path, cz.Total, cz.Offset, cz.Limit, tc.total, tc.offset, tc.limit)
			continue
		}
		var listed bool
		for _, ci := range cz.Conns {
			listed = listed || len(ci.Subs) > 0
		}
		if listed != tc.subs {
			t.Errorf("GET %s: subscriptions listed %v, want %v", tc.path, listed, tc.subs)
		}
	}

	subsz := []struct {
		path   string
		listed int
		offset int
		limit  int
	}{
		{"/subsz?subs=&limit=&offset=&test=", 0, 0, 1024},
		{"/subsz?subs=t&limit=-1&offset=-1", 1, 0, 1024},
		{"/subsz?subs=false", 0, 0, 1024},
		{"/subsz?test=params.ok", 1, 0, 1024},
		{"/subscriptionsz?subs=1&offset=1", 0, 1, 1024},
	}
	for _, tc := range subsz {
		resp, body := get(t, c, m, tc.path)
		var sz monitor.Subsz
		if err := json.Unmarshal(body, &sz); resp.StatusCode != 200 || err != nil {
			t.Errorf("GET %s: %d %v %s", tc.path, resp.StatusCode, err, body)
			continue
		}
		if listed := len(sz.Subs); listed != tc.listed || sz.Offset != tc.offset || sz.Limit != tc.limit {
			t.Errorf("GET %s: listed %d offset %d limit %d, want %d %d %d", tc.path, len(sz.Subs), sz.Offset, sz.Limit, tc.listed, tc.offset, tc.limit)
		}
	}

	for _, path := range []string{
		"/routez?subs=", "/routez?subs=1", "/routez?subs=detail",
		"/varz?foo=bar", "/varz?subs=maybe",
		"/healthz?js-enabled-only=true", "/healthz?js-enabled-only=", "/healthz?details=true",
		"/healthz?js-server-only=1&js-meta-only=0&js-enabled=f", "/healthz?account=A&stream=s&consumer=c", "/healthz?bogus=1",
		"/leafz?subs=true", "/gatewayz?subs=detail&accs=1",
	} {
		var doc map[string]any
		getJSON(t, c, m, path, &doc)
		if path[:8] == "/healthz" && doc["status"] != "ok" {
			t.Errorf("GET %s: %v", path, doc)
		}
	}
}
