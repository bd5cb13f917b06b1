package broker_test

import (
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
