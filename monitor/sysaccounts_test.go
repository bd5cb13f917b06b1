package monitor_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// accountsBroker starts a broker with a system account SYS (admin) and
// accounts A and B, its monitor and system responder, and one client in
// each of A and B (named a-app and b-app).
func accountsBroker(t *testing.T) *broker.Server {
	t.Helper()
	o := testOptions()
	o.Name = "acc-server"
	o.Auth = &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}},
			{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
			{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}},
		},
		SystemAccount: "SYS",
	}
	srv := started(t, newBrokerWith(t, o))
	m := startMonitor(t, srv, monitor.Config{})
	startSystem(t, srv, m)
	a := connect(t, srv, nats.UserInfo("a", "a"), nats.Name("a-app"))
	if _, err := a.SubscribeSync("a.sub"); err != nil {
		t.Fatal(err)
	}
	a.Flush()
	connect(t, srv, nats.UserInfo("b", "b"), nats.Name("b-app"))
	return srv
}

func connNames(cz *monitor.Connz) string {
	var names []string
	for _, c := range cz.Conns {
		names = append(names, c.Name+"@"+c.Account)
	}
	return strings.Join(names, ",")
}

// TestAccountRequests: the system account's $SYS.REQ.ACCOUNT.<acc>.*
// requests answer with the monitor's documents about that account, and
// an account user's $SYS.REQ.SERVER.PING.CONNZ sees its own account only.
func TestAccountRequests(t *testing.T) {
	srv := accountsBroker(t)
	admin := connect(t, srv, nats.UserInfo("admin", "s"))

	var cz monitor.Connz
	r := request(t, admin, "$SYS.REQ.ACCOUNT.A.CONNZ", "")
	if err := json.Unmarshal(r.Data, &cz); err != nil || connNames(&cz) != "a-app@A" {
		t.Fatalf("ACCOUNT.A.CONNZ: %v %s", err, r.Data)
	}
	var sz monitor.Subsz
	r = request(t, admin, "$SYS.REQ.ACCOUNT.A.SUBSZ", "")
	if err := json.Unmarshal(r.Data, &sz); err != nil || !strings.Contains(string(r.Data), `"a.sub"`) {
		t.Fatalf("ACCOUNT.A.SUBSZ: %v %s", err, r.Data)
	}
	var info monitor.AccountDetail
	r = request(t, admin, "$SYS.REQ.ACCOUNT.B.INFO", "")
	if err := json.Unmarshal(r.Data, &info); err != nil || info.Name != "B" || info.Connections != 1 {
		t.Fatalf("ACCOUNT.B.INFO: %v %s", err, r.Data)
	}
	var st monitor.AccountStatz
	r = request(t, admin, "$SYS.REQ.ACCOUNT.PING.STATZ", "")
	if err := json.Unmarshal(r.Data, &st); err != nil || len(st.Accounts) != 3 { // A, B and SYS (admin)
		t.Fatalf("ACCOUNT.PING.STATZ: %v %s", err, r.Data)
	}
	r = request(t, admin, "$SYS.REQ.ACCOUNT.A.STATZ", "")
	if err := json.Unmarshal(r.Data, &st); err != nil || len(st.Accounts) != 1 || st.Accounts[0].Account != "A" || st.Accounts[0].Conns != 1 {
		t.Fatalf("ACCOUNT.A.STATZ: %v %s", err, r.Data)
	}
	var az monitor.Accountz
	r = request(t, admin, "$SYS.REQ.SERVER.PING.ACCOUNTZ", "")
	if err := json.Unmarshal(r.Data, &az); err != nil || strings.Join(az.Accounts, ",") != "$G,A,B,SYS" {
		t.Fatalf("PING.ACCOUNTZ: %v %s", err, r.Data)
	}
	m, err := admin.Request("$SYS.REQ.SERVER.PING.IDZ", nil, 2*time.Second)
	if err != nil || !strings.Contains(string(m.Data), `"id":"`+srv.ID()+`"`) {
		t.Fatalf("PING.IDZ: %v", err)
	}

	a := connect(t, srv, nats.UserInfo("a", "a"), nats.Name("a-asker"))
	r = request(t, a, "$SYS.REQ.SERVER.PING.CONNZ", "")
	if err := json.Unmarshal(r.Data, &cz); err != nil || connNames(&cz) != "a-app@A,a-asker@A" {
		t.Fatalf("A's PING.CONNZ: %v %s", err, r.Data)
	}
	// The body cannot widen it to another account.
	r = request(t, a, "$SYS.REQ.ACCOUNT.PING.CONNZ", `{"acc":"B"}`)
	if err := json.Unmarshal(r.Data, &cz); err != nil || strings.Contains(connNames(&cz), "@B") {
		t.Fatalf("A's PING.CONNZ for B: %v %s", err, r.Data)
	}
}

// TestNatsCLIAccounts runs the real `nats server report connections` and
// `nats server report accounts` as the system account's user (everyone),
// and `report connections` as an account's user (its own only), as
// nats-server 2.15.2 answers them.
func TestNatsCLIAccounts(t *testing.T) {
	srv := accountsBroker(t)
	admin := natsCLIAs(t, srv, "admin", "s")
	if out := admin("server", "report", "connections"); !strings.Contains(out, "a-app") || !strings.Contains(out, "b-app") {
		t.Errorf("report connections as the system user:\n%s", out)
	}
	if out := admin("server", "report", "accounts"); !strings.Contains(out, " A ") && !strings.Contains(out, "│ A") || !strings.Contains(out, "B") {
		t.Errorf("report accounts:\n%s", out)
	}
	if out := admin("server", "request", "accounts", "--account", "A"); !strings.Contains(out, `"A"`) {
		t.Errorf("request accounts:\n%s", out)
	}
	// An account user cannot discover the cluster's size ($SYS.REQ.SERVER.PING
	// is the system account's), so it names the number of servers, as
	// with nats-server.
	a := natsCLIAs(t, srv, "a", "a")
	if out := a("server", "report", "connections", "1"); !strings.Contains(out, "a-app") || strings.Contains(out, "b-app") {
		t.Errorf("report connections as an account user:\n%s", out)
	}
}
