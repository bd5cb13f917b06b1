package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// leafsOf is the ids of s's leaf connections.
func leafsOf(s *broker.Server) []uint64 {
	var ids []uint64
	for _, li := range s.Leafs(false) {
		ids = append(ids, li.CID)
	}
	return ids
}

// A reload checks the logins of the hub's leaves again: an unchanged user
// keeps its connection, changed permissions make the leaf log in again
// with them (both sides then filter by the new rules), and a revoked
// password closes the leaf, which cannot come back, with an AUTH.ERR
// event. Our hub, with our leaf and with a nats-server leaf.
func TestLeafReauthOnReload(t *testing.T) {
	user := func(pass string, pub ...string) broker.User {
		return broker.User{Name: "leafa", Password: pass, Permissions: &broker.Permissions{
			Publish: broker.SubjectRules{Allow: append(pub, "_INBOX.>")},
		}}
	}
	auth := func(u broker.User) *broker.AuthOptions {
		return &broker.AuthOptions{SystemAccount: "SYS", Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "sys", Password: "s"}}},
			{Name: "A", Users: []broker.User{u, {Name: "app", Password: "p"}}},
		}}
	}
	for _, kind := range []string{"ours", "nats-server"} {
		t.Run(kind+" leaf", func(t *testing.T) {
			o := testOptions()
			o.Auth = auth(user("p", "x.>"))
			o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
			hub := startServer(t, o, nil)
			remote := withUser(leafURL(hub), "leafa", "p")
			var lc *nats.Conn
			if kind == "ours" {
				lc = connectTCP(t, startLeafOf(t, remote, nil))
			} else {
				lc = startNats(t, false, fmt.Sprintf("remotes: [ { url: %q } ]\nreconnect: \"200ms\"", remote)).connect()
			}
			waitLeafs(t, hub, 1)
			first := leafsOf(hub)
			app := login(t, hub, "app", "p")
			sub, _ := app.SubscribeSync(">")
			app.Flush()
			// crosses publishes subject on the leaf until it reaches the hub.
			crosses := func(what, subject string) {
				t.Helper()
				eventually(t, 10*time.Second, what, func() bool {
					lc.Publish(subject, nil)
					lc.Flush()
					for {
						m, err := sub.NextMsg(100 * time.Millisecond)
						if err != nil {
							return false
						}
						if m.Subject == subject {
							return true
						}
					}
				})
			}
			crosses("x.1 crosses", "x.1")

			// Unchanged: the same connection.
			if err := hub.Reload(o); err != nil {
				t.Fatal(err)
			}
			if got := leafsOf(hub); len(got) != 1 || got[0] != first[0] {
				t.Fatalf("after an unchanged reload: leaves %v, want %v", got, first)
			}

			// Permissions changed: the leaf logs in again, and y.> now
			// crosses while x.> does not.
			o.Auth = auth(user("p", "y.>"))
			if err := hub.Reload(o); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the leaf back with a new connection", func() bool {
				ids := leafsOf(hub)
				return len(ids) == 1 && ids[0] != first[0]
			})
			crosses("y.1 crosses under the new rules", "y.1")
			second := leafsOf(hub)
			lc.Publish("x.2", nil)
			lc.Publish("y.2", nil)
			lc.Flush()
			for {
				m := leafRecv(t, sub)
				if m.Subject == "x.2" {
					t.Fatal("x.2 crossed after the reload took x.> away")
				}
				if m.Subject == "y.2" {
					break
				}
			}
			if got := leafsOf(hub); len(got) != 1 || got[0] != second[0] {
				t.Fatalf("the leaf was closed for x.2: leaves %v, want %v (it must hold x.2 back itself)", got, second)
			}

			// Password revoked: closed with an AUTH.ERR event, and not back.
			sys := login(t, hub, "sys", "s")
			ev, _ := sys.SubscribeSync("$SYS.SERVER.*.CLIENT.AUTH.ERR")
			sys.Flush()
			failures := hub.AuthFailures()
			o.Auth = auth(user("new", "y.>"))
			if err := hub.Reload(o); err != nil {
				t.Fatal(err)
			}
			if _, err := ev.NextMsg(5 * time.Second); err != nil {
				t.Fatalf("no AUTH.ERR event for the revoked leaf: %v", err)
			}
			// The leaf redials every 200 ms: refused each time, it stays out.
			eventually(t, 10*time.Second, "the leaf's redials refused", func() bool { return hub.AuthFailures() >= failures+3 })
			if n := hub.NumLeafs(); n != 0 {
				t.Fatalf("%d leaves after the password was revoked", n)
			}
		})
	}
}
