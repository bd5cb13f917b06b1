package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transform"
)

// to is a one-destination mapping.
func to(src, dest string) broker.Mapping {
	return broker.Mapping{Source: src, Dests: []transform.Dest{{Subject: dest, Weight: 100}}}
}

// expectOn publishes subject on pub and wants sub's next message on want
// and nothing after it.
func expectOn(t *testing.T, pub *nats.Conn, sub *nats.Subscription, subNC *nats.Conn, subject, want string) {
	t.Helper()
	if err := pub.Publish(subject, []byte(subject)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	onlyMsg(t, "published on "+subject, sub, subNC, want, subject)
}

// TestMappingsPublish: the global account's mappings move a client's
// publish to the mapped subject before subscriptions are matched, and a
// dropped share goes nowhere; another account's subjects are its own.
func TestMappingsPublish(t *testing.T) {
	o := testOptions()
	o.Mappings = []broker.Mapping{
		to("foo", "bar"),
		to("orders.*.*", "orders.{{wildcard(2)}}.{{wildcard(1)}}"),
		{Source: "gone", Dests: []transform.Dest{{Subject: "gone", Weight: 0}}},
	}
	o.Auth = accountsAuth()
	o.Auth.Accounts[0].Mappings = []broker.Mapping{to("foo", "a.foo")}
	srv := startServer(t, o, nil)

	g := login(t, srv, "gus", "g")
	all := subAll(t, g)
	expectOn(t, g, all, g, "foo", "bar")
	expectOn(t, g, all, g, "orders.1.2", "orders.2.1")
	expectOn(t, g, all, g, "bar", "bar") // mapped once, not again
	expectOn(t, g, all, g, "other", "other")
	if err := g.Publish("gone", nil); err != nil {
		t.Fatal(err)
	}
	noMsg(t, "the dropped share", all, g)

	a := login(t, srv, "alice", "a")
	aAll := subAll(t, a)
	expectOn(t, a, aAll, a, "foo", "a.foo")
	expectOn(t, a, aAll, a, "orders.1.2", "orders.1.2")
	noMsg(t, "$G", all, g)
}

// TestMappingsPermissions: the publish permission is checked on the
// mapped subject, as nats-server does.
func TestMappingsPermissions(t *testing.T) {
	o := testOptions()
	o.Mappings = []broker.Mapping{to("open", "allowed.x"), to("sneaky", "secret")}
	o.Auth = &broker.AuthOptions{Users: []broker.User{{Name: "u", Password: "p", Permissions: &broker.Permissions{
		Publish: broker.SubjectRules{Allow: []string{"allowed.>", "sneaky"}},
	}}}}
	srv := startServer(t, o, nil)
	errs := make(chan error, 4)
	nc := login(t, srv, "u", "p")
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	all := subAll(t, nc)
	expectOn(t, nc, all, nc, "open", "allowed.x") // "open" itself is not allowed
	if err := nc.Publish("sneaky", nil); err != nil {
		t.Fatal(err)
	}
	expectAsyncErr(t, errs, `permissions violation for publish to "secret"`)
	noMsg(t, "a denied mapped subject", all, nc)
}

// TestMappingsAcrossRoutes: the broker a message is published on maps
// it; the others deliver it as routed, without mapping it again.
func TestMappingsAcrossRoutes(t *testing.T) {
	srvs := startMeshWith(t, 2, func(o *broker.Options) {
		o.Mappings = []broker.Mapping{to("foo", "bar"), to("bar", "baz")}
	})
	pub := connectTCP(t, srvs[0])
	remote := connectTCP(t, srvs[1])
	all := subAll(t, remote)
	waitInterest(t, srvs, ">", 1)
	expectOn(t, pub, all, remote, "foo", "bar")
	expectOn(t, pub, all, remote, "bar", "baz")
}

// TestMappingsCluster: destinations scoped to a cluster apply on its
// brokers only.
func TestMappingsCluster(t *testing.T) {
	ms := []broker.Mapping{{Source: "x.*", Dests: []transform.Dest{
		{Subject: "in.$1", Weight: 100, Cluster: "test"},
		{Subject: "out.$1", Weight: 100, Cluster: "other"},
	}}}
	srvs := startMeshWith(t, 1, func(o *broker.Options) { o.Mappings = ms })
	nc := connectTCP(t, srvs[0])
	all := subAll(t, nc)
	expectOn(t, nc, all, nc, "x.1", "in.1")

	o := testOptions()
	o.Mappings = ms
	alone := connectTCP(t, startServer(t, o, nil))
	aAll := subAll(t, alone)
	expectOn(t, alone, aAll, alone, "x.1", "x.1") // in no cluster: the subject stays
}

// TestMappingsReload: a reload replaces the mappings of the running
// broker, for clients already connected.
func TestMappingsReload(t *testing.T) {
	o := testOptions()
	o.Mappings = []broker.Mapping{to("foo", "bar")}
	srv := startServer(t, o, nil)
	nc := connectTCP(t, srv)
	all := subAll(t, nc)
	expectOn(t, nc, all, nc, "foo", "bar")

	o.Mappings = []broker.Mapping{to("foo", "baz"), to("new", "newer")}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	expectOn(t, nc, all, nc, "foo", "baz")
	expectOn(t, nc, all, nc, "new", "newer")

	o.Mappings = nil
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	expectOn(t, nc, all, nc, "foo", "foo")

	o.Mappings = []broker.Mapping{to("a.*", "b.$2")}
	if err := srv.Reload(o); err == nil || !strings.Contains(err.Error(), "mappings.a.*: invalid mapping destination: wildcard index out of range in $2: [2]") {
		t.Fatalf("a bad mapping reloaded: %v", err)
	}
	expectOn(t, nc, all, nc, "foo", "foo")
}

// TestMappingsServiceImport: a request entering the exporting account
// through a service import takes that account's mappings.
func TestMappingsServiceImport(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}},
			Exports:  []broker.Export{{Service: "svc.>"}},
			Mappings: []broker.Mapping{to("svc.v1", "svc.v2")}},
		{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}},
			Imports: []broker.Import{{Account: "A", Service: "svc.>"}}},
	}}
	srv := startServer(t, o, nil)
	a := login(t, srv, "a", "a")
	if _, err := a.Subscribe("svc.>", func(m *nats.Msg) { _ = m.Respond([]byte(m.Subject)) }); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	b := login(t, srv, "b", "b")
	m, err := b.Request("svc.v1", nil, 2*time.Second)
	if err != nil || string(m.Data) != "svc.v2" {
		t.Fatalf("request: %v %q", err, m.Data)
	}
}

// TestMappingsJWT: an account JWT's mappings apply to its clients, and a
// pushed JWT replaces them.
func TestMappingsJWT(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) {
		ac.Mappings = jwt.Mapping{
			"foo":   {{Subject: "bar"}}, // weight 0 means 100
			"bad.*": {{Subject: "x.$2", Weight: 100}},
		}
	})
	srv, _ := tr.dirServer(sys, []*testAccount{a}, nil)
	nc := mustCreds(t, srv, tr.user(a, "alice", nil, nil))
	all := subAll(t, nc)
	expectOn(t, nc, all, nc, "foo", "bar")
	expectOn(t, nc, all, nc, "bad.1", "bad.1") // the bad mapping skipped

	a.claims.Mappings = jwt.Mapping{"foo": {{Subject: "baz", Weight: 100}}}
	a.claims.IssuedAt = time.Now().Unix() + 1
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))
	if ans := push(t, admin, tr.signed(a)); ans.Data == nil || ans.Data.Code != 200 {
		t.Fatalf("push: %+v", ans)
	}
	expectOn(t, nc, all, nc, "foo", "baz")
}

// TestMappingsDroppedVerbose: a verbose client gets its +OK for a
// message a mapping drops, as for any accepted publish.
func TestMappingsDroppedVerbose(t *testing.T) {
	o := testOptions()
	o.Mappings = []broker.Mapping{{Source: "gone", Dests: []transform.Dest{{Subject: "gone", Weight: 0}}}}
	r := dialRaw(t, startServer(t, o, nil))
	r.readInfo()
	r.send(`CONNECT {"verbose":true,"pedantic":false}` + "\r\nPING\r\n")
	r.expect("+OK\r\nPONG\r\n")
	r.send("SUB > 1\r\nPUB gone 2\r\nhi\r\nPING\r\n")
	r.expect("+OK\r\n+OK\r\nPONG\r\n")
}
