package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
)

// accountsAuth is two accounts (A: alice, B: bob) and a $G user (gus).
func accountsAuth() *broker.AuthOptions {
	return &broker.AuthOptions{
		Users: []broker.User{{Name: "gus", Password: "g"}},
		Accounts: []broker.Account{
			{Name: "A", Users: []broker.User{{Name: "alice", Password: "a"}, {Name: "anna", Password: "a"}}},
			{Name: "B", Users: []broker.User{{Name: "bob", Password: "b"}}},
		},
	}
}

func login(t *testing.T, srv *broker.Server, user, pass string) *nats.Conn {
	t.Helper()
	nc, err := tryConnect(srv, nats.UserInfo(user, pass))
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// subAll subscribes to everything (">") and flushes.
func subAll(t *testing.T, nc *nats.Conn) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// onlyMsg reads sub's next message, wants it on subject with data, and
// then nothing more (after a round trip on nc, the subscriber's conn).
func onlyMsg(t *testing.T, who string, sub *nats.Subscription, nc *nats.Conn, subject, data string) {
	t.Helper()
	m, err := sub.NextMsg(2 * time.Second)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if m.Subject != subject || string(m.Data) != data {
		t.Fatalf("%s got %s %q, want %s %q", who, m.Subject, m.Data, subject, data)
	}
	noMsg(t, who, sub, nc)
}

// noMsg wants nothing queued on sub once nc has done a round trip.
func noMsg(t *testing.T, who string, sub *nats.Subscription, nc *nats.Conn) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("%s got %s %q from another account", who, m.Subject, m.Data)
	}
}

// TestAccountsIsolate: the same subject in two accounts never meets, even
// under SUB >; users of one account share its subject space; users
// outside any account share $G.
func TestAccountsIsolate(t *testing.T) {
	srv := authServer(t, accountsAuth())
	alice, anna, bob, gus := login(t, srv, "alice", "a"), login(t, srv, "anna", "a"), login(t, srv, "bob", "b"), login(t, srv, "gus", "g")
	sa, sb, sg := subAll(t, alice), subAll(t, bob), subAll(t, gus)
	for _, p := range []struct {
		nc   *nats.Conn
		data string
	}{{anna, "from A"}, {bob, "from B"}, {gus, "from $G"}} {
		if err := p.nc.Publish("orders.1", []byte(p.data)); err != nil {
			t.Fatal(err)
		}
		if err := p.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	onlyMsg(t, "alice", sa, alice, "orders.1", "from A")
	// bob's own message comes back to him (echo), nothing else.
	onlyMsg(t, "bob", sb, bob, "orders.1", "from B")
	onlyMsg(t, "gus", sg, gus, "orders.1", "from $G")

	// Request/reply works within an account, and not across.
	if _, err := anna.Subscribe("svc", func(m *nats.Msg) { _ = m.Respond([]byte("A answers")) }); err != nil {
		t.Fatal(err)
	}
	if err := anna.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := alice.Request("svc", nil, 2*time.Second); err != nil || string(m.Data) != "A answers" {
		t.Fatalf("request within A: %v", err)
	}
	// (Without bob's SUB >, which would take the request.)
	if err := sb.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Request("svc", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request from B reached A's responder: %v", err)
	}
}

// TestAccountsConnectInfo: the INFO after the handshake names the
// client's account (nats-server's remote_account).
func TestAccountsConnectInfo(t *testing.T) {
	srv := authServer(t, accountsAuth())
	raw := dialRaw(t, srv)
	raw.handshake(`{"verbose":false,"protocol":1,"user":"bob","pass":"b"}`)
	line := raw.readLine()
	if !strings.HasPrefix(line, "INFO ") || !strings.Contains(line, `"remote_account":"B"`) {
		t.Fatalf("connect INFO %q does not name account B", line)
	}
}

// TestNoAuthUser: a client with no credentials is logged in as
// no_auth_user, in that user's account; wrong credentials still fail.
func TestNoAuthUser(t *testing.T) {
	a := accountsAuth()
	a.NoAuthUser = "bob"
	srv := authServer(t, a)
	anon, err := tryConnect(srv)
	if err != nil {
		t.Fatalf("no credentials: %v", err)
	}
	defer anon.Close()
	bob := login(t, srv, "bob", "b")
	sb := subAll(t, bob)
	if err := anon.Publish("hello", []byte("anon")); err != nil {
		t.Fatal(err)
	}
	onlyMsg(t, "bob", sb, bob, "hello", "anon")
	if nc, err := tryConnect(srv, nats.UserInfo("bob", "wrong")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("wrong password with no_auth_user: %v", err)
	}
}

// TestNkeyUsers: an nkey user proves its key by signing the INFO nonce
// (nats.go Nkey); a signature by another key, or of another nonce, is an
// Authorization Violation.
func TestNkeyUsers(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	other, _ := nkeys.CreateUser()
	a := accountsAuth()
	a.Accounts[0].Users = append(a.Accounts[0].Users, broker.User{Nkey: pub})
	srv := authServer(t, a)
	nc, err := tryConnect(srv, nats.Nkey(pub, kp.Sign))
	if err != nil {
		t.Fatalf("nkey login: %v", err)
	}
	defer nc.Close()
	alice := login(t, srv, "alice", "a")
	sa := subAll(t, alice)
	if err := nc.Publish("k", []byte("nkey user")); err != nil {
		t.Fatal(err)
	}
	onlyMsg(t, "alice", sa, alice, "k", "nkey user") // the nkey user is in A

	for name, sign := range map[string]func([]byte) ([]byte, error){
		"another key's signature":   other.Sign,
		"another nonce's signature": func([]byte) ([]byte, error) { return kp.Sign([]byte("not the nonce")) },
		"no signature":              func([]byte) ([]byte, error) { return nil, nil },
	} {
		if nc, err := tryConnect(srv, nats.Nkey(pub, sign)); !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}
}

// TestAccountsAcrossRoutes: interest and messages travel with their
// account: a subscriber in A on one broker gets A's messages published
// on another broker, and never B's on the same subject.
func TestAccountsAcrossRoutes(t *testing.T) {
	srvs := startMeshWith(t, 3, func(o *broker.Options) { o.Auth = accountsAuth() })
	alice := login(t, srvs[0], "alice", "a")
	sa := subAll(t, alice)
	bob0 := login(t, srvs[0], "bob", "b")
	sb := subAll(t, bob0)
	waitAccountInterest(t, srvs, "A", 1)
	waitAccountInterest(t, srvs, "B", 1)
	anna, bob := login(t, srvs[1], "anna", "a"), login(t, srvs[2], "bob", "b")
	for _, p := range []struct {
		nc   *nats.Conn
		data string
	}{{anna, "from A"}, {bob, "from B"}} {
		if err := p.nc.Publish("orders.1", []byte(p.data)); err != nil {
			t.Fatal(err)
		}
		if err := p.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	onlyMsg(t, "alice", sa, alice, "orders.1", "from A")
	onlyMsg(t, "bob", sb, bob0, "orders.1", "from B")

	// A queue group in A spans the brokers; B's requests never reach it.
	for _, s := range srvs[1:] {
		nc := login(t, s, "anna", "a")
		if _, err := nc.QueueSubscribe("work", "q", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	waitAccountInterest(t, srvs[:1], "A", 3)
	for range 10 {
		if _, err := alice.Request("work", nil, 2*time.Second); err != nil {
			t.Fatalf("request in A across routes: %v", err)
		}
	}
	if err := sb.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "B's interest withdrawn", func() bool { return srvs[2].AccountSubscriptions("B") == 0 })
	if _, err := bob.Request("work", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("B's request reached A's queue group: %v", err)
	}
}

// waitAccountInterest waits until every server counts at least want
// subscriptions in account acc.
func waitAccountInterest(t *testing.T, srvs []*broker.Server, acc string, want int) {
	t.Helper()
	for _, s := range srvs {
		eventually(t, 5*time.Second, "interest in account "+acc, func() bool {
			return s.AccountSubscriptions(acc) >= want
		})
	}
}

// TestReloadMovesUserToAnotherAccount: a reload that moves a user to
// another account closes its clients with 'Authorization Violation'
// (their subscriptions were in the old subject space); a new account
// added by reload can be logged into at once.
func TestReloadMovesUserToAnotherAccount(t *testing.T) {
	o := testOptions()
	o.Auth = accountsAuth()
	srv := startServer(t, o, nil)
	raw := rawLogin(t, srv, "bob", "b")
	stay := login(t, srv, "alice", "a")
	n := o
	n.Auth = accountsAuth()
	n.Auth.Accounts[1].Users = nil
	n.Auth.Accounts = append(n.Auth.Accounts, broker.Account{Name: "C", Users: []broker.User{{Name: "bob", Password: "b"}}})
	if err := srv.Reload(n); err != nil {
		t.Fatal(err)
	}
	raw.expect("-ERR 'Authorization Violation'\r\n")
	raw.expectClosed()
	bob := login(t, srv, "bob", "b")
	sb := subAll(t, bob)
	if err := stay.Publish("x", nil); err != nil {
		t.Fatal(err)
	}
	noMsg(t, "bob in C", sb, bob)
	if !stay.IsConnected() {
		t.Fatal("a client whose account did not change was closed")
	}
}

// TestSecondConnectKeepsAccount: a second CONNECT may log in again within
// the client's account, but not move it to another (its subscriptions
// live in the first account's index): that is 'Authorization Violation'.
func TestSecondConnectKeepsAccount(t *testing.T) {
	srv := authServer(t, accountsAuth())
	r := rawLogin(t, srv, "alice", "a")
	r.send("SUB foo 1\r\nCONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"anna\",\"pass\":\"a\"}\r\nPING\r\n")
	r.expect("PONG\r\n")
	r.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"bob\",\"pass\":\"b\"}\r\nPING\r\n")
	r.expect("-ERR 'Authorization Violation'\r\n")
	r.expectClosed()
	eventually(t, 5*time.Second, "A's subscription gone with its client", func() bool {
		return srv.AccountSubscriptions("A") == 0
	})
}
