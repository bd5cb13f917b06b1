package broker_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// TestSystemAccount: with system_account naming an account, the system
// responder answers there: that account's users can ping, and another
// account sees none of it even under SUB >, nor can it reach the
// responder (no responders), so a forged system reply is impossible.
func TestSystemAccount(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}},
			{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
		},
		SystemAccount: "SYS",
	})
	sys, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	a := login(t, srv, "a", "a")
	sa := subAll(t, a)
	admin := login(t, srv, "admin", "s")
	m, err := admin.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second)
	if err != nil || !strings.Contains(string(m.Data), `"statsz"`) {
		t.Fatalf("system account ping: %v", err)
	}
	noMsg(t, "a", sa, a)
	if err := sa.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Request("$SYS.REQ.SERVER.PING", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("another account reached the system responder: %v", err)
	}
}

// TestSystemEvents: the system account hears of clients connecting and
// disconnecting ($SYS.ACCOUNT.<acc>.CONNECT, .DISCONNECT, nats-server's
// JSON) and of failed logins ($SYS.SERVER.<id>.CLIENT.AUTH.ERR); other
// accounts hear nothing.
func TestSystemEvents(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}},
			{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
		},
		SystemAccount: "SYS",
	})
	admin := login(t, srv, "admin", "s")
	events, err := admin.SubscribeSync("$SYS.>")
	if err != nil {
		t.Fatal(err)
	}
	admin.Flush()
	watcher := login(t, srv, "a", "a")
	sw := subAll(t, watcher)

	nc, err := tryConnect(srv, nats.UserInfo("a", "a"), nats.Name("app"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if bad, err := tryConnect(srv, nats.UserInfo("a", "wrong")); err == nil {
		bad.Close()
		t.Fatal("bad password accepted")
	}
	want := []struct{ subject, typ, reason string }{
		{"$SYS.ACCOUNT.A.CONNECT", "io.nats.server.advisory.v1.client_connect", ""},
		{"$SYS.ACCOUNT.A.DISCONNECT", "io.nats.server.advisory.v1.client_disconnect", "Client Closed"},
		{"$SYS.SERVER." + srv.ID() + ".CLIENT.AUTH.ERR", "io.nats.server.advisory.v1.client_disconnect", "Authentication Failure"},
	}
	// The app's disconnect and the failed login are torn down on their
	// own goroutines: their events may come in either order. The
	// watcher's own connect event is not one of those looked for.
	got := map[string]*nats.Msg{}
	for len(got) < len(want) {
		m, err := events.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the events (have %d of %d): %v", len(got), len(want), err)
		}
		if strings.HasSuffix(m.Subject, ".AUTH.ERR") || strings.Contains(string(m.Data), `"name":"app"`) {
			got[m.Subject] = m
		}
	}
	for _, w := range want {
		m := got[w.subject]
		if m == nil {
			t.Fatalf("no event on %s", w.subject)
		}
		var ev broker.DisconnectEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		acc := "A"
		if w.reason == "Authentication Failure" {
			acc = "$G" // it never logged in to A
		}
		if ev.Type != w.typ || ev.Reason != w.reason || ev.Client.Account != acc || ev.Server.ID != srv.ID() {
			t.Fatalf("event on %s: %s", m.Subject, m.Data)
		}
	}
	noMsg(t, "a", sw, watcher)
}

// TestSystemStatszPublished: a system account hears STATSZ periodically.
func TestSystemStatszPublished(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{
		Accounts:      []broker.Account{{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}}},
		SystemAccount: "SYS",
	})
	admin := login(t, srv, "admin", "s")
	sub, err := admin.SubscribeSync("$SYS.SERVER." + srv.ID() + ".STATSZ")
	if err != nil {
		t.Fatal(err)
	}
	admin.Flush()
	sys, err := srv.StartSystem(broker.SystemOptions{StatszInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for range 2 {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil || !strings.Contains(string(m.Data), `"statsz"`) {
			t.Fatalf("periodic STATSZ: %v", err)
		}
	}
}
