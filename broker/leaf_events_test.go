package broker_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// leafAccountEvent is what the account events of a leaf say.
type leafAccountEvent struct {
	Client struct {
		Account string `json:"acc"`
		User    string `json:"user"`
		Kind    string `json:"kind"`
	} `json:"client"`
	Reason string `json:"reason"`
}

// nextAccountEvent is the next CONNECT or DISCONNECT event on sub (other
// account events are skipped), as "subject-suffix kind acc user reason".
func nextAccountEvent(t *testing.T, sub *nats.Subscription) string {
	t.Helper()
	for {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no account event: %v", err)
		}
		kind := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if kind != "CONNECT" && kind != "DISCONNECT" || strings.Contains(m.Subject, ".LEAFNODE.") {
			continue
		}
		var ev leafAccountEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s %s %s %s %s", kind, ev.Client.Kind, ev.Client.Account, ev.Client.User, ev.Reason)
	}
}

// eventHub is a hub for the leaf event tests: its leaf URL and a client
// of its system account.
type eventHub struct {
	who, leafURL string
	sys          *nats.Conn
}

// eventHubs are our hub and nats-server's, each with the system account
// SYS (user sys) and account A (user leafa, password p).
func eventHubs(t *testing.T) []eventHub {
	t.Helper()
	o := testOptions()
	o.Auth = &broker.AuthOptions{SystemAccount: "SYS", Accounts: []broker.Account{
		{Name: "SYS", Users: []broker.User{{Name: "sys", Password: "s"}}},
		{Name: "A", Users: []broker.User{{Name: "leafa", Password: "p"}}},
	}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	ours := startServer(t, o, nil)
	lp := testutil.FreePort(t)
	theirs := startNatsConf(t, fmt.Sprintf(`accounts { SYS: { users: [ { user: sys, password: s } ] }, A: { users: [ { user: leafa, password: p } ] } }
system_account: SYS
leafnodes { listen: "127.0.0.1:%d" }`, lp))
	return []eventHub{
		{"ours", leafURL(ours), login(t, ours, "sys", "s")},
		{"nats-server", fmt.Sprintf("nats://127.0.0.1:%d", lp), theirs.connect(nats.UserInfo("sys", "s"))},
	}
}

// A leaf's account connect and disconnect events on our hub and on
// nats-server's: the same subjects, kind Leafnode, the user, the reason.
func TestLeafAccountEvents(t *testing.T) {
	hubs := eventHubs(t)
	var got [2][]string
	for i, h := range hubs {
		sub, _ := h.sys.SubscribeSync("$SYS.ACCOUNT.A.>")
		h.sys.Flush()
		leaf := startLeafOf(t, withUser(h.leafURL, "leafa", "p"), nil)
		waitLeafs(t, leaf, 1)
		got[i] = append(got[i], nextAccountEvent(t, sub))
		leaf.Close()
		got[i] = append(got[i], nextAccountEvent(t, sub))
	}
	// The reason depends on how the socket ended (nats-server says Read
	// Error for a reset, Client Closed at EOF): any is fine.
	for i, who := range []string{"ours", "nats-server"} {
		if len(got[i]) != 2 || got[i][0] != "CONNECT Leafnode A leafa " || !strings.HasPrefix(got[i][1], "DISCONNECT Leafnode A leafa ") ||
			len(got[i][1]) == len("DISCONNECT Leafnode A leafa ") {
			t.Errorf("%s: %q", who, got[i])
		}
	}
}
