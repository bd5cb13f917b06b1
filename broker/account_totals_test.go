package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// accountInfo is srv's AccountInfo for name.
func accountInfo(t *testing.T, srv *broker.Server, name string) broker.AccountInfo {
	t.Helper()
	for _, a := range srv.Accounts() {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no account %q", name)
	return broker.AccountInfo{}
}

// TestAccountTotalsSurviveClose: an account's message counters and
// connection count include its closed clients, and another account's
// stay its own.
func TestAccountTotalsSurviveClose(t *testing.T) {
	srv := authServer(t, accountsAuth())
	alice := login(t, srv, "alice", "a")
	sub, err := alice.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	bob := login(t, srv, "bob", "b")
	const n = 10
	payload := strings.Repeat("p", 100)
	for range n {
		if err := alice.Publish("x", []byte(payload)); err != nil {
			t.Fatal(err)
		}
		if err := bob.Publish("y", []byte(payload[:10])); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := bob.Flush(); err != nil {
		t.Fatal(err)
	}
	want := broker.AccountInfo{Name: "A", Connections: 1, InMsgs: n, InBytes: n * 100, OutMsgs: n, OutBytes: n * 100, TotalConnections: 1}
	wantB := broker.AccountInfo{Name: "B", Connections: 1, InMsgs: n, InBytes: n * 10, TotalConnections: 1}
	check := func(when string, want broker.AccountInfo) {
		t.Helper()
		got := accountInfo(t, srv, want.Name)
		got.Subscriptions, got.Exports, got.Imports = 0, nil, nil
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: account %s is %+v, want %+v", when, want.Name, got, want)
		}
	}
	// A reader counts what it read after delivering it: wait for the count.
	eventually(t, 5*time.Second, "the messages counted", func() bool {
		return accountInfo(t, srv, "A").InMsgs == n && accountInfo(t, srv, "B").InMsgs == n
	})
	check("open", want)
	check("open", wantB)

	alice.Close()
	eventually(t, 5*time.Second, "alice's connection to retire", func() bool { return accountInfo(t, srv, "A").Connections == 0 })
	want.Connections = 0
	check("after close", want)
	check("after close", wantB)

	anna := login(t, srv, "anna", "a")
	if err := anna.Publish("x", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "anna's message counted", func() bool { return accountInfo(t, srv, "A").InMsgs == n+1 })
	want.Connections, want.TotalConnections, want.InMsgs, want.InBytes = 1, 2, n+1, (n+1)*100
	check("a second client", want)
	if a := accountInfo(t, srv, broker.GlobalAccount); a.TotalConnections != 0 || a.InMsgs != 0 {
		t.Errorf("$G counted another account's clients: %+v", a)
	}
}

// TestAccountTotalsKeepRefusedMove: a second CONNECT that would move the
// client to another account is refused (TestSecondConnectKeepsAccount);
// what it counted stays with its account, and the other counts nothing.
func TestAccountTotalsKeepRefusedMove(t *testing.T) {
	srv := authServer(t, accountsAuth())
	r := dialRaw(t, srv)
	r.handshake(`{"verbose":false,"pedantic":false,"user":"alice","pass":"a"}`)
	r.send("PUB x 3\r\nabc\r\nPUB x 3\r\nabc\r\n" +
		`CONNECT {"verbose":false,"pedantic":false,"user":"bob","pass":"b"}` + "\r\nPUB y 1\r\nz\r\nPING\r\n")
	r.expect("-ERR 'Authorization Violation'\r\n")
	r.expectClosed()
	eventually(t, 5*time.Second, "the client to retire", func() bool { return accountInfo(t, srv, "A").Connections == 0 })
	a, b := accountInfo(t, srv, "A"), accountInfo(t, srv, "B")
	if a.TotalConnections != 1 || a.InMsgs != 2 || a.InBytes != 6 {
		t.Errorf("A: %+v", a)
	}
	if b.TotalConnections != 0 || b.InMsgs != 0 {
		t.Errorf("B counted a refused move: %+v", b)
	}
}
