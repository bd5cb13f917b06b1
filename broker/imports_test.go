package broker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// sharingAuth: A exports a stream and two services (one to B only, one
// answering with a stream of responses); B imports them; C imports
// nothing.
func sharingAuth() *broker.AuthOptions {
	return &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}, Exports: []broker.Export{
			{Stream: "a.events.>"},
			{Service: "a.svc", Accounts: []string{"B"}},
			{Service: "a.feed", ResponseType: broker.ResponseStream},
		}},
		{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}, Imports: []broker.Import{
			{Account: "A", Stream: "a.events.>", Prefix: "from_a"},
			{Account: "A", Service: "a.svc", To: "svc.a"},
			{Account: "A", Service: "a.feed"},
		}},
		{Name: "C", Users: []broker.User{{Name: "c", Password: "c"}}},
	}}
}

// TestStreamImport: A's messages on the exported subjects reach B under
// the prefix, and nothing else crosses: not A's other subjects, not B's
// messages into A, nothing into C.
func TestStreamImport(t *testing.T) {
	srv := authServer(t, sharingAuth())
	a, b, c := login(t, srv, "a", "a"), login(t, srv, "b", "b"), login(t, srv, "c", "c")
	sb, sc := subAll(t, b), subAll(t, c)
	for _, subj := range []string{"a.events.1", "a.private"} {
		if err := a.Publish(subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	onlyMsg(t, "b", sb, b, "from_a.a.events.1", "a.events.1")
	noMsg(t, "c", sc, c)
	sa := subAll(t, a)
	if err := b.Publish("a.events.2", nil); err != nil {
		t.Fatal(err)
	}
	noMsg(t, "a", sa, a)
}

// TestServiceImport: B's requests to its local subject reach A's
// responder on the exported subject with a mapped reply subject, and the
// response comes back; C, not allowed, has nothing to import; with no
// responder B gets the no-responders status.
func TestServiceImport(t *testing.T) {
	srv := authServer(t, sharingAuth())
	a, b := login(t, srv, "a", "a"), login(t, srv, "b", "b")
	if _, err := b.Request("svc.a", []byte("q"), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("no responder across the import: %v, want no responders", err)
	}
	replies := make(chan string, 1)
	if _, err := a.Subscribe("a.svc", func(m *nats.Msg) {
		replies <- m.Reply
		_ = m.Respond(append([]byte("A got "), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := b.Request("svc.a", []byte("q"), 2*time.Second)
	if err != nil || string(m.Data) != "A got q" {
		t.Fatalf("request across the import: %v", err)
	}
	if r := <-replies; !strings.HasPrefix(r, "_R_.") {
		t.Fatalf("the responder saw reply subject %q, not a mapped one", r)
	}
	// A singleton service lets one response through (here two responders
	// answer, one of them twice).
	inbox := b.NewRespInbox()
	sub, _ := b.SubscribeSync(inbox)
	twice, _ := a.Subscribe("a.svc", func(m *nats.Msg) { _ = m.Respond([]byte("1")); _ = m.Respond([]byte("2")) })
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	defer twice.Unsubscribe()
	if err := b.PublishRequest("svc.a", inbox, nil); err != nil {
		t.Fatal(err)
	}
	got := 0
	for {
		if _, err := sub.NextMsg(300 * time.Millisecond); err != nil {
			break
		}
		got++
	}
	if got != 1 { // three responses sent: the first one crosses
		t.Fatalf("%d responses to a singleton request answered three times, want 1", got)
	}
}

// TestServiceImportStreamResponses: a stream-type export lets every
// response of one request through until the threshold.
func TestServiceImportStreamResponses(t *testing.T) {
	srv := authServer(t, sharingAuth())
	a, b := login(t, srv, "a", "a"), login(t, srv, "b", "b")
	if _, err := a.Subscribe("a.feed", func(m *nats.Msg) {
		for i := range 3 {
			_ = m.Respond([]byte{byte('0' + i)})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	inbox := b.NewRespInbox()
	sub, _ := b.SubscribeSync(inbox)
	if err := b.PublishRequest("a.feed", inbox, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := sub.NextMsg(2 * time.Second); err != nil {
			t.Fatalf("response %d of a stream export: %v", i, err)
		}
	}
}

// TestImportConfigErrors: an import the exporter does not allow, or of
// something not exported, is refused naming the import; the broker does
// not start.
func TestImportConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*broker.AuthOptions)
		want string
	}{
		{func(a *broker.AuthOptions) {
			a.Accounts[2].Imports = []broker.Import{{Account: "A", Service: "a.svc"}}
		}, `accounts.C.imports[0]: account "A" does not export service "a.svc" to account "C"`},
		{func(a *broker.AuthOptions) {
			a.Accounts[2].Imports = []broker.Import{{Account: "A", Stream: "a.other"}}
		}, `accounts.C.imports[0]: account "A" does not export stream "a.other" to account "C"`},
		{func(a *broker.AuthOptions) {
			a.Accounts[2].Imports = []broker.Import{{Account: "Z", Stream: "x"}}
		}, `accounts.C.imports[0]: account "Z" is not defined`},
		{func(a *broker.AuthOptions) {
			a.Accounts[0].Exports[0].ResponseType = broker.ResponseStream
		}, `accounts.A.exports[0]: response_type and response_threshold apply to services only`},
	} {
		a := sharingAuth()
		tc.edit(a)
		o := testOptions()
		o.Auth = a
		_, err := broker.New(o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestImportsAcrossRoutes: with the responder and the stream subscriber
// on other brokers than the requester and the publisher, the imports work
// and deliver once.
func TestImportsAcrossRoutes(t *testing.T) {
	srvs := startMeshWith(t, 3, func(o *broker.Options) { o.Auth = sharingAuth() })
	a0, a1 := login(t, srvs[0], "a", "a"), login(t, srvs[1], "a", "a")
	b2 := login(t, srvs[2], "b", "b")
	if _, err := a1.Subscribe("a.svc", func(m *nats.Msg) { _ = m.Respond([]byte("from broker 1")) }); err != nil {
		t.Fatal(err)
	}
	if err := a1.Flush(); err != nil {
		t.Fatal(err)
	}
	sb := subAll(t, b2)
	waitAccountInterest(t, srvs, "A", 1)
	waitAccountInterest(t, srvs, "B", 1)
	eventually(t, 5*time.Second, "a.svc interest on broker 2", func() bool {
		r, _ := srvs[2].CountMatches("A", "a.svc")
		return r > 0
	})
	if err := sb.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	m, err := b2.Request("svc.a", nil, 2*time.Second)
	if err != nil || string(m.Data) != "from broker 1" {
		t.Fatalf("service import across routes: %v", err)
	}
	sb = subAll(t, b2)
	eventually(t, 5*time.Second, "B's interest on broker 0", func() bool {
		r, _ := srvs[0].CountMatches("B", "from_a.a.events.1")
		return r > 0
	})
	if err := a0.Publish("a.events.1", []byte("once")); err != nil {
		t.Fatal(err)
	}
	if err := a0.Flush(); err != nil {
		t.Fatal(err)
	}
	onlyMsg(t, "b on broker 2", sb, b2, "from_a.a.events.1", "once")
}

// TestImportsSurviveReload: a reload that keeps an import keeps it
// forwarding: every message published across a run of reloads (each
// adding an account) arrives.
func TestImportsSurviveReload(t *testing.T) {
	o := testOptions()
	o.Auth = sharingAuth()
	srv := startServer(t, o, nil)
	a, b := login(t, srv, "a", "a"), login(t, srv, "b", "b")
	sub, err := b.SubscribeSync("from_a.a.events.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Publish("a.events.x", nil); err != nil {
				done <- err
				return
			}
			if i%100 == 0 {
				_ = a.Flush()
			}
		}
		done <- a.Flush()
	}()
	for i := range 200 {
		n := testOptions()
		n.Auth = sharingAuth()
		n.Auth.Accounts = append(n.Auth.Accounts, broker.Account{Name: fmt.Sprintf("X%d", i)})
		if err := srv.Reload(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := sub.NextMsg(2 * time.Second); err != nil {
			t.Fatalf("message %d of %d lost across the reloads: %v", i, n, err)
		}
	}
}
