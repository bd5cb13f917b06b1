package broker_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// mappingAuth: A exports streams and services; B imports them with `to`
// mappings: a ">" tail moved under another prefix, two wildcards swapped,
// a literal renamed; a wildcard service under local subjects in order
// and swapped, and a literal service under a wildcard local subject.
func mappingAuth() *broker.AuthOptions {
	return &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}, Exports: []broker.Export{
			{Stream: "a.events.>"}, {Stream: "m.*.*"}, {Stream: "one"},
			{Service: "svc.*.*"}, {Service: "single"},
		}},
		{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}, Imports: []broker.Import{
			{Account: "A", Stream: "a.events.>", To: "b.>"},
			{Account: "A", Stream: "m.*.*", To: "n.$2.$1"},
			{Account: "A", Stream: "one", To: "renamed"},
			{Account: "A", Service: "svc.*.*", To: "req.*.*"},
			{Account: "A", Service: "svc.*.*", To: "swap.{{wildcard(2)}}.$1"},
			{Account: "A", Service: "single", To: "any.*"},
		}},
	}}
}

// TestStreamImportMapped: each message of A on an imported stream reaches
// B on the subject the import's `to` maps it to, and on no other.
func TestStreamImportMapped(t *testing.T) {
	srv := authServer(t, mappingAuth())
	a, b := login(t, srv, "a", "a"), login(t, srv, "b", "b")
	sb := subAll(t, b)
	for _, tc := range []struct{ pub, want string }{
		{"a.events.x", "b.x"},
		{"a.events.x.y.z", "b.x.y.z"},
		{"m.p.q", "n.q.p"},
		{"one", "renamed"},
	} {
		if err := a.Publish(tc.pub, []byte(tc.pub)); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		onlyMsg(t, "b", sb, b, tc.want, tc.pub)
	}
	// A subscriber of the mapped subject alone gets it too.
	only, err := b.SubscribeSync("n.*.p")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish("m.p.q", nil); err != nil {
		t.Fatal(err)
	}
	if m, err := only.NextMsg(2 * time.Second); err != nil || m.Subject != "n.q.p" {
		t.Fatalf("subscriber of n.*.p: %v %v", m, err)
	}
}

// TestServiceImportMapped: B's requests to a wildcard local subject reach
// A's responder on the exported subject, the wildcards placed as `to`
// says; a literal service takes requests from a wildcard local subject.
func TestServiceImportMapped(t *testing.T) {
	srv := authServer(t, mappingAuth())
	a, b := login(t, srv, "a", "a"), login(t, srv, "b", "b")
	for _, subj := range []string{"svc.*.*", "single"} {
		if _, err := a.Subscribe(subj, func(m *nats.Msg) { _ = m.Respond([]byte(m.Subject)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ req, want string }{
		{"req.p.q", "svc.p.q"},
		{"swap.p.q", "svc.q.p"},
		{"any.thing", "single"},
	} {
		m, err := b.Request(tc.req, nil, 2*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", tc.req, err)
		}
		if string(m.Data) != tc.want {
			t.Errorf("request to %s reached A on %s, want %s", tc.req, m.Data, tc.want)
		}
	}
}

// TestImportMappingErrors: mappings nats-server refuses are refused here
// with its reasons, naming the import's to; so is a prefix beside a to.
func TestImportMappingErrors(t *testing.T) {
	const stream, service = "a.*.*", "s.*.*"
	for _, tc := range []struct {
		im   broker.Import
		want string
	}{
		{broker.Import{Stream: "a.events.>", To: "b.c"},
			`accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.events.>" to "b.c": invalid subject`},
		{broker.Import{Stream: stream, To: "b.*"},
			`accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.*.*" to "b.*": invalid mapping destination: not using all of the token wildcard(s) in b.$1`},
		{broker.Import{Stream: stream, To: "b.$3.$1"},
			`accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.*.*" to "b.$3.$1": invalid mapping destination: wildcard index out of range in $3: [3]`},
		{broker.Import{Stream: stream, To: "b.{{partition(3)}}.$1"},
			`accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.*.*" to "b.{{partition(3)}}.$1": invalid mapping destination: the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(3)}}`},
		{broker.Import{Stream: stream, To: "b.{{bogus(3)}}.$1"},
			`accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.*.*" to "b.{{bogus(3)}}.$1": invalid mapping destination: unknown function in {{bogus(3)}}`},
		{broker.Import{Stream: stream, Prefix: "p", To: "b.$1.$2"},
			`accounts.B.imports[0].to: stream import can not have a 'prefix' and a 'to' property`},
		{broker.Import{Stream: "lit", To: "b.*"},
			`accounts.B.imports[0].to: the stream "lit" is one subject: "b.*" must be a literal subject`},
		{broker.Import{Stream: stream, To: "b..c"},
			`accounts.B.imports[0].to: invalid subject "b..c"`},
		{broker.Import{Service: "svc.>", To: "local.x"},
			`accounts.B.imports[0].to: failed to create mapping transform for service import subject from "local.x" to "svc.>": invalid subject`},
		{broker.Import{Service: service, To: "l.*"},
			`accounts.B.imports[0].to: failed to create mapping transform for service import subject from "l.*" to "s.*.*": invalid mapping destination: not using all of the token wildcard(s) in l.$1`},
		{broker.Import{Service: service, To: "l.$3.*"},
			`accounts.B.imports[0].to: failed to create mapping transform for service import subject from "l.$3.*" to "s.*.*": invalid mapping destination: wildcard index out of range in $3: [3]`},
	} {
		tc.im.Account = "A"
		a := &broker.AuthOptions{Accounts: []broker.Account{
			{Name: "A", Exports: []broker.Export{{Stream: ">"}, {Service: ">"}}},
			{Name: "B", Imports: []broker.Import{tc.im}},
		}}
		o := testOptions()
		o.Auth = a
		_, err := broker.New(o)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v:\n error %v\n want  %s", tc.im, err, tc.want)
		}
	}
}
