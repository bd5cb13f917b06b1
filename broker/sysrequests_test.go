package broker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// sysAccountsAuth: a system account SYS (admin) and accounts A and B.
func sysAccountsAuth() *broker.AuthOptions {
	return &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}},
			{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
			{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}},
		},
		SystemAccount: "SYS",
	}
}

// echoEndpoints answer account requests with the account they were asked
// about and the server's name; STATZ about B stays silent.
func echoEndpoints(name string) map[string]broker.AccountHandler {
	echo := func(endpoint string) broker.AccountHandler {
		return func(acc string, _ []byte) (any, error) {
			if endpoint == "STATZ" && acc == "B" {
				return nil, broker.ErrSilent
			}
			return map[string]string{"endpoint": endpoint, "acc": acc, "server": name}, nil
		}
	}
	return map[string]broker.AccountHandler{"CONNZ": echo("CONNZ"), "STATZ": echo("STATZ"), "INFO": echo("INFO")}
}

type accountAnswer struct {
	Data struct {
		Endpoint string `json:"endpoint"`
		Acc      string `json:"acc"`
		Server   string `json:"server"`
	} `json:"data"`
	Error *broker.APIError `json:"error"`
}

func askAccount(t *testing.T, nc *nats.Conn, subject string) (accountAnswer, error) {
	t.Helper()
	var r accountAnswer
	m, err := nc.Request(subject, nil, time.Second)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("%s: %v: %s", subject, err, m.Data)
	}
	return r, nil
}

// TestAccountSystemRequests: the system account asks about any account
// ($SYS.REQ.ACCOUNT.<acc>.<NAME>, and PING.STATZ about all); every other
// account asks, through its system imports, about itself only, and
// reaches nothing else of the system account. A reload's new account gets
// the imports too.
func TestAccountSystemRequests(t *testing.T) {
	o := testOptions()
	o.Auth = sysAccountsAuth()
	srv := startServer(t, o, nil)
	sys, err := srv.StartSystem(broker.SystemOptions{AccountEndpoints: echoEndpoints("one")})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if _, err := srv.StartSystem(broker.SystemOptions{}); err == nil {
		t.Fatal("a second responder started")
	}
	admin, a, b := login(t, srv, "admin", "s"), login(t, srv, "a", "a"), login(t, srv, "b", "b")

	want := func(who string, nc *nats.Conn, subject, endpoint, acc string) {
		t.Helper()
		r, err := askAccount(t, nc, subject)
		if err != nil || r.Error != nil || r.Data.Endpoint != endpoint || r.Data.Acc != acc {
			t.Fatalf("%s %s: %v %+v, want %s about %q", who, subject, err, r, endpoint, acc)
		}
	}
	want("admin", admin, "$SYS.REQ.ACCOUNT.A.CONNZ", "CONNZ", "A")
	want("admin", admin, "$SYS.REQ.ACCOUNT.B.INFO", "INFO", "B")
	want("admin", admin, "$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ", "")
	if r, err := askAccount(t, admin, "$SYS.REQ.ACCOUNT.A.NOPE"); err != nil || r.Error == nil || r.Error.Code != 404 {
		t.Fatalf("unknown account endpoint: %v %+v", err, r)
	}
	for _, silent := range []string{"$SYS.REQ.ACCOUNT.NOPE.CONNZ", "$SYS.REQ.ACCOUNT.B.STATZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"} {
		if _, err := askAccount(t, admin, silent); !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("%s: %v, want no answer", silent, err)
		}
	}

	for _, c := range []struct {
		who string
		nc  *nats.Conn
	}{{"A", a}, {"B", b}} {
		want(c.who, c.nc, "$SYS.REQ.SERVER.PING.CONNZ", "CONNZ", c.who)
		want(c.who, c.nc, "$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ", c.who)
		for _, closed := range []string{"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.ACCOUNT.A.CONNZ", "$SYS.REQ.SERVER." + srv.ID() + ".CONNZ"} {
			if _, err := c.nc.Request(closed, nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
				t.Fatalf("account %s reached %s: %v", c.who, closed, err)
			}
		}
	}
	want("A", a, "$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ", "A")
	if _, err := askAccount(t, b, "$SYS.REQ.ACCOUNT.PING.STATZ"); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("B's silent STATZ: %v", err)
	}

	n := testOptions()
	n.Auth = sysAccountsAuth()
	n.Auth.Accounts = append(n.Auth.Accounts, broker.Account{Name: "C", Users: []broker.User{{Name: "c", Password: "c"}}})
	if err := srv.Reload(n); err != nil {
		t.Fatal(err)
	}
	want("C", login(t, srv, "c", "c"), "$SYS.REQ.SERVER.PING.CONNZ", "CONNZ", "C")
}

// TestImplicitSystemAccount: with no system_account named, $SYS is the
// system account: an account of that name holds its users, and $G does
// not reach it.
func TestImplicitSystemAccount(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
		{Name: broker.DefaultSystemAccount, Users: []broker.User{{Name: "admin", Password: "s"}}},
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
	}}
	srv := startServer(t, o, nil)
	sys, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if _, err := login(t, srv, "admin", "s").Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second); err != nil {
		t.Fatalf("$SYS user's ping: %v", err)
	}
	if _, err := login(t, srv, "a", "a").Request("$SYS.REQ.SERVER.PING", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("account A reached the system responder: %v", err)
	}
	moved := *o.Auth
	moved.SystemAccount = "A"
	o.Auth = &moved
	if err := srv.Reload(o); err == nil {
		t.Fatal("a reload changed the system account")
	}
}

// TestAccountSystemRequestsAcrossRoutes: an account's CONNZ request is
// answered by every broker of the cluster, each about that account.
func TestAccountSystemRequestsAcrossRoutes(t *testing.T) {
	srvs := startMeshWith(t, 3, func(o *broker.Options) { o.Auth = sysAccountsAuth() })
	for i, s := range srvs {
		sys, err := s.StartSystem(broker.SystemOptions{AccountEndpoints: echoEndpoints(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sys.Close)
	}
	a := login(t, srvs[0], "a", "a")
	eventually(t, 5*time.Second, "CONNZ answers from every broker", func() bool {
		inbox := nats.NewInbox()
		sub, err := a.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := a.PublishRequest("$SYS.REQ.SERVER.PING.CONNZ", inbox, nil); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for {
			m, err := sub.NextMsg(300 * time.Millisecond)
			if err != nil {
				return len(seen) == 3
			}
			var r accountAnswer
			if err := json.Unmarshal(m.Data, &r); err != nil || r.Data.Acc != "A" {
				t.Fatalf("answer %s: %v", m.Data, err)
			}
			seen[r.Data.Server] = true
		}
	})
}
