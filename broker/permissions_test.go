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

// Permission tests: the bytes expected were first taken from nats-server
// 2.15.2 with the same users (except where a comment says the broker is
// stricter).

// permUsers are the users the permission tests log in as.
func permUsers() []broker.User {
	return []broker.User{
		{Name: "alice", Password: "a", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Allow: []string{">"}, Deny: []string{"secret.>"}},
		}},
		{Name: "narrow", Password: "n", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Allow: []string{"foo.*", "q.x q1", "jobs.* v1.*"}},
		}},
		{Name: "svc", Password: "s", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Allow: []string{"svc.>"}},
			Response:  &broker.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}},
		{Name: "bob", Password: "b"},
	}
}

func rawLogin(t *testing.T, srv *broker.Server, user, pass string) *rawConn {
	t.Helper()
	r := dialRaw(t, srv)
	r.handshake(fmt.Sprintf(`{"verbose":false,"pedantic":false,"user":%q,"pass":%q}`, user, pass))
	return r
}

// TestDenyHoldsAtDelivery: a wildcard subscription wider than the deny
// rules never receives a denied subject (it used to: SUB > got secret.x).
func TestDenyHoldsAtDelivery(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: permUsers()})
	alice := rawLogin(t, srv, "alice", "a")
	bob := rawLogin(t, srv, "bob", "b")
	alice.send("SUB > 1\r\nSUB *.x 2\r\nSUB secret.* 3\r\nSUB *.* q 4\r\nPING\r\n")
	alice.expect("-ERR 'Permissions Violation for Subscription to \"secret.*\"'\r\nPONG\r\n")
	bob.send("PUB secret.x 1\r\nS\r\nPUB secret.a.b 1\r\nS\r\nPUB public.x 1\r\nP\r\nPING\r\n")
	bob.expect("PONG\r\n")
	alice.expect("MSG public.x 1 1\r\nP\r\nMSG public.x 2 1\r\nP\r\nMSG public.x 4 1\r\nP\r\n")
	alice.expectOpen()
}

// TestAllowHoldsAtDelivery: SUB foo.> under allow foo.* is admitted (its
// tokens, taken literally, match foo.*, as in nats-server) but receives
// only what foo.* allows. nats-server delivers foo.a.b here; the broker is
// stricter on purpose: a subscription never sees what its rules refuse.
func TestAllowHoldsAtDelivery(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: permUsers()})
	narrow := rawLogin(t, srv, "narrow", "n")
	bob := rawLogin(t, srv, "bob", "b")
	narrow.send("SUB foo.> 1\r\nSUB > 2\r\nPING\r\n")
	narrow.expect("-ERR 'Permissions Violation for Subscription to \">\"'\r\nPONG\r\n")
	bob.send("PUB foo.a.b 1\r\nx\r\nPUB foo.a 1\r\ny\r\nPING\r\n")
	bob.expect("PONG\r\n")
	narrow.expect("MSG foo.a 1 1\r\ny\r\n")
	narrow.expectOpen()
}

// TestQueuePermissions: a subscribe rule "subject queue" admits that queue
// only (and a wildcard queue rule the queues it matches).
func TestQueuePermissions(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: permUsers()})
	narrow := rawLogin(t, srv, "narrow", "n")
	bob := rawLogin(t, srv, "bob", "b")
	narrow.send("SUB q.x 3\r\nSUB q.x q1 4\r\nSUB q.x q2 5\r\nSUB jobs.a v1.w 6\r\nSUB jobs.a v2 7\r\nSUB jobs.a 8\r\nPING\r\n")
	narrow.expect("-ERR 'Permissions Violation for Subscription to \"q.x\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"q.x\" using queue \"q2\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"jobs.a\" using queue \"v2\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"jobs.a\"'\r\nPONG\r\n")
	bob.send("PUB q.x 1\r\nx\r\nPUB jobs.a 1\r\ny\r\nPING\r\n")
	bob.expect("PONG\r\n")
	narrow.expect("MSG q.x 4 1\r\nx\r\nMSG jobs.a 6 1\r\ny\r\n")
	narrow.expectOpen()
}

// TestQueuePermissionDeniedAtDelivery: a wildcard queue subscription does
// not receive subjects its queue is denied on.
func TestQueuePermissionDeniedAtDelivery(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: []broker.User{
		{Name: "w", Password: "w", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Deny: []string{"work.secret q1"}},
		}},
		{Name: "bob", Password: "b"},
	}})
	w := rawLogin(t, srv, "w", "w")
	bob := rawLogin(t, srv, "bob", "b")
	w.send("SUB work.* q1 1\r\nSUB work.* q2 2\r\nSUB work.secret q1 3\r\nPING\r\n")
	w.expect("-ERR 'Permissions Violation for Subscription to \"work.secret\" using queue \"q1\"'\r\nPONG\r\n")
	bob.send("PUB work.secret 1\r\nS\r\nPUB work.open 1\r\nO\r\nPING\r\n")
	bob.expect("PONG\r\n")
	w.expect("MSG work.secret 2 1\r\nS\r\nMSG work.open 1 1\r\nO\r\nMSG work.open 2 1\r\nO\r\n")
	w.expectOpen()
}

// TestAllowResponses: a service limited to svc.> may answer the requests
// it receives, once each (max 1), and publish nothing else.
func TestAllowResponses(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: permUsers()})
	svc := rawLogin(t, srv, "svc", "s")
	bob := rawLogin(t, srv, "bob", "b")
	svc.send("SUB svc.a 1\r\nPUB other 1\r\nx\r\nPUB inbox.1 1\r\nx\r\nPING\r\n")
	svc.expect("-ERR 'Permissions Violation for Publish to \"other\"'\r\n" +
		"-ERR 'Permissions Violation for Publish to \"inbox.1\"'\r\nPONG\r\n")
	bob.send("SUB inbox.1 9\r\nPUB svc.a inbox.1 1\r\nx\r\nPING\r\n")
	bob.expect("PONG\r\n")
	svc.expect("MSG svc.a 1 inbox.1 1\r\nx\r\n")
	svc.send("PUB inbox.1 1\r\ny\r\nPUB inbox.1 1\r\nz\r\nPING\r\n")
	svc.expect("-ERR 'Permissions Violation for Publish to \"inbox.1\"'\r\nPONG\r\n")
	bob.expect("MSG inbox.1 9 1\r\ny\r\n")
	bob.expectOpen()
}

// TestAllowResponsesNatsGo: the same with nats.go request/reply, where the
// reply subject is nats.go's own inbox.
func TestAllowResponsesNatsGo(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: permUsers()})
	svc, err := tryConnect(srv, nats.UserInfo("svc", "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	svc.Flush()
	bob, err := tryConnect(srv, nats.UserInfo("bob", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	for i := range 3 {
		m, err := bob.Request("svc.echo", []byte(fmt.Sprint(i)), 2*time.Second)
		if err != nil || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

// TestSystemUserIsolated: the system user shorthand (AuthOptions.System)
// logs into the system account, so other users' wildcard subscriptions
// see neither a $SYS request nor its answer and never learn a system inbox
// to forge replies on; their own $SYS subjects reach nobody.
func TestSystemUserIsolated(t *testing.T) {
	users := []broker.User{
		{Name: "eve", Password: "e", Permissions: &broker.Permissions{
			Publish:   broker.SubjectRules{Deny: []string{"$SYS.>"}},
			Subscribe: broker.SubjectRules{Deny: []string{"$SYS.>"}},
		}},
		{Name: "mallory", Password: "m"}, // no rules at all
	}
	srv := authServer(t, &broker.AuthOptions{Users: users, System: &broker.User{Name: "sys", Password: "sys"}})
	sys, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	eve := rawLogin(t, srv, "eve", "e")
	eve.send("SUB > 1\r\nSUB _INBOX.> 2\r\nSUB *.* 3\r\nPING\r\n")
	eve.expect("PONG\r\n")
	mallory := rawLogin(t, srv, "mallory", "m")
	// Mallory's request reaches no responder in $G: she hears only her
	// own message (echo), and no reply.
	mallory.send("SUB > 1\r\nSUB mine 2\r\nPUB $SYS.REQ.SERVER.PING mine 0\r\n\r\nPING\r\n")
	mallory.expect("MSG $SYS.REQ.SERVER.PING 1 mine 0\r\n\r\nPONG\r\n")

	nc, err := tryConnect(srv, nats.UserInfo("sys", "sys"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second)
	if err != nil || !strings.Contains(string(m.Data), `"statsz"`) {
		t.Fatalf("system user's ping: %v", err)
	}
	// The system user's wildcard inbox works; a forged reply from $G
	// cannot reach it (another subject space).
	inbox, _ := nc.SubscribeSync("_INBOX.mine.*")
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING", "_INBOX.mine.1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("system user's wildcard inbox: %v", err)
	}
	// Eve and Mallory saw nothing of the system's traffic: the next thing
	// they read is their own PONG.
	eve.expectOpen()
	mallory.expectOpen()
	mallory.send("PUB _INBOX.mine.1 6\r\nforged\r\nPING\r\n")
	mallory.expect("MSG _INBOX.mine.1 1 6\r\nforged\r\nPONG\r\n")
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := inbox.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a forged reply reached the system user: %q", m.Data)
	}
}

// TestSystemUserAlone: a system user as the only credential locks nobody
// out: clients with no credentials land in $G, wrong system credentials
// are refused, and the system user is in the system account.
func TestSystemUserAlone(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{System: &broker.User{Name: "sys", Password: "s"}})
	sys, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	anon, err := tryConnect(srv)
	if err != nil {
		t.Fatalf("anonymous client refused: %v", err)
	}
	defer anon.Close()
	if _, err := anon.Request("$SYS.REQ.SERVER.PING", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("$G reached the system responder: %v", err)
	}
	if bad, err := tryConnect(srv, nats.UserInfo("sys", "wrong")); err == nil {
		bad.Close()
		t.Fatal("wrong system password accepted")
	}
	if bad, err := tryConnect(srv, nats.UserInfo("nobody", "x")); err == nil {
		bad.Close()
		t.Fatal("unknown user accepted")
	}
	nc, err := tryConnect(srv, nats.UserInfo("sys", "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second); err != nil {
		t.Fatalf("system user's ping: %v", err)
	}
}

// TestReloadRemovesUnauthorizedSubs: a reload that narrows a user's
// subscribe rules removes the subscriptions they no longer admit, with
// nats-server's -ERR, and filters the wildcard ones it still admits.
func TestReloadRemovesUnauthorizedSubs(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Users: []broker.User{{Name: "u", Password: "u"}, {Name: "bob", Password: "b"}}}
	srv := startServer(t, o, nil)
	u := rawLogin(t, srv, "u", "u")
	bob := rawLogin(t, srv, "bob", "b")
	u.send("SUB foo.x 7\r\nSUB foo.* 8\r\nPING\r\n")
	u.expect("PONG\r\n")
	o.Auth = &broker.AuthOptions{Users: []broker.User{
		{Name: "u", Password: "u", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Allow: []string{"foo.*"}, Deny: []string{"foo.x"}},
		}},
		{Name: "bob", Password: "b"},
	}}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	u.expect("-ERR 'Permissions Violation for Subscription to \"foo.x\" (sid \"7\")'\r\n")
	bob.send("PUB foo.x 1\r\nx\r\nPUB foo.y 1\r\ny\r\nPING\r\n")
	bob.expect("PONG\r\n")
	u.expect("MSG foo.y 8 1\r\ny\r\n")
	u.expectOpen()
}

// TestReloadTurnsOnUserAuth: a wildcard subscription made while no
// authentication was required is filtered at delivery once a reload gives
// its user rules (it had no filter: it is replaced by one that has).
func TestReloadTurnsOnUserAuth(t *testing.T) {
	o := testOptions()
	srv := startServer(t, o, nil)
	u := rawLogin(t, srv, "u", "u") // credentials nobody checks yet
	u.send("SUB foo.* 8\r\nSUB bar 9\r\nPING\r\n")
	u.expect("PONG\r\n")
	o.Auth = &broker.AuthOptions{Users: []broker.User{
		{Name: "u", Password: "u", Permissions: &broker.Permissions{
			Subscribe: broker.SubjectRules{Allow: []string{"foo.*"}, Deny: []string{"foo.x"}},
		}},
		{Name: "bob", Password: "b"},
	}}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	u.expect("-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"9\")'\r\n")
	bob := rawLogin(t, srv, "bob", "b")
	bob.send("PUB foo.x 1\r\nx\r\nPUB foo.y 1\r\ny\r\nPUB bar 1\r\nz\r\nPING\r\n")
	bob.expect("PONG\r\n")
	u.expect("MSG foo.y 8 1\r\ny\r\n")
	u.expectOpen()
}
