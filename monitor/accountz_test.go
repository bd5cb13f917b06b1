package monitor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// TestAccountsInMonitor: /connz names each connection's account and
// filters by it (acc=), with the user under auth=1; /accountz lists the
// accounts and details one with its exports, imports and counts.
func TestAccountsInMonitor(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}},
			Exports: []broker.Export{{Service: "a.svc"}}},
		{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}},
			Imports: []broker.Import{{Account: "A", Service: "a.svc", To: "svc"}}},
	}}
	srv := started(t, newBrokerWith(t, o))
	connect(t, srv, nats.UserInfo("a", "a"))
	nb := connect(t, srv, nats.UserInfo("b", "b"))
	if _, err := nb.SubscribeSync("x"); err != nil {
		t.Fatal(err)
	}
	nb.Flush()
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	var cz monitor.Connz
	getJSON(t, c, m, "/connz?acc=B&auth=1", &cz)
	if cz.Total != 1 || cz.Conns[0].Account != "B" || cz.Conns[0].User != "b" {
		t.Fatalf("connz?acc=B: %+v", cz.Conns)
	}
	var all monitor.Connz
	getJSON(t, c, m, "/connz", &all)
	if all.Total != 2 || all.Conns[0].User != "" || all.Conns[0].Account != "A" {
		t.Fatalf("connz: total %d, %+v (a user shown without auth=1?)", all.Total, all.Conns[0])
	}

	var az monitor.Accountz
	getJSON(t, c, m, "/accountz", &az)
	if strings.Join(az.Accounts, ",") != "$G,$SYS,A,B" { // $SYS: the implicit system account, as nats-server lists it
		t.Fatalf("accountz: %v", az.Accounts)
	}
	getJSON(t, c, m, "/accountz?acc=B", &az)
	d := az.Account
	if d == nil || d.Name != "B" || d.Connections != 1 || d.Subscriptions < 2 ||
		len(d.Imports) != 1 || d.Imports[0].Account != "A" || d.Imports[0].LocalSubject != "svc" {
		t.Fatalf("accountz?acc=B: %+v", d)
	}
	getJSON(t, c, m, "/accountz?acc=A", &az)
	if d := az.Account; len(d.Exports) != 1 || d.Exports[0].Type != "service" || d.Exports[0].ResponseType != "singleton" {
		t.Fatalf("accountz?acc=A: %+v", d)
	}
	var sz monitor.Subsz
	getJSON(t, c, m, "/subsz?subs=1&acc=B", &sz)
	if sz.Total != 1 || sz.Subs[0].Subject != "x" || sz.Subs[0].Account != "B" {
		t.Fatalf("subsz?acc=B: %+v", sz.Subs)
	}
	var none monitor.Subsz
	getJSON(t, c, m, "/subsz?subs=1&acc=A", &none)
	if none.Total != 0 {
		t.Fatalf("subsz?acc=A lists %+v", none.Subs)
	}
	var test monitor.Subsz
	getJSON(t, c, m, "/subsz?acc=B&test=x", &test)
	if test.Total != 1 || test.Subs[0].Account != "B" {
		t.Fatalf("subsz?acc=B&test=x: %+v", test.Subs)
	}
	_, metrics := get(t, c, m, "/metrics")
	for _, line := range []string{
		`murmur_account_connections{server="` + srv.Name() + `",account="B"} 1`,
		`murmur_account_connections{server="` + srv.Name() + `",account="$G"} 0`,
	} {
		if !strings.Contains(string(metrics), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if resp, _ := get(t, c, m, "/accountz?acc=Z"); resp.StatusCode != 400 {
		t.Fatalf("unknown account: status %d", resp.StatusCode)
	}
}

// TestAccountMetricsBounded: past MaxAccountLabels accounts, /metrics
// names the busiest and sums the rest under account="_other".
func TestAccountMetricsBounded(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{}
	for i := range monitor.MaxAccountLabels + 20 {
		o.Auth.Accounts = append(o.Auth.Accounts, broker.Account{
			Name: fmt.Sprintf("ACC%d", i), Users: []broker.User{{Name: fmt.Sprintf("u%d", i), Password: "p"}},
		})
	}
	srv := started(t, newBrokerWith(t, o))
	connect(t, srv, nats.UserInfo("u7", "p"))
	m := startMonitor(t, srv, monitor.Config{})
	_, body := get(t, client(t), m, "/metrics")
	n := strings.Count(string(body), "\nmurmur_account_connections{")
	if n != monitor.MaxAccountLabels+1 {
		t.Fatalf("%d account series, want %d", n, monitor.MaxAccountLabels+1)
	}
	for _, want := range []string{`account="ACC7"} 1`, `account="_other"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestAccountzOperatorMode: in operator mode /accountz?acc=<pub> shows
// the account JWT's claims (its limits) beside its current usage.
func TestAccountzOperatorMode(t *testing.T) {
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opJWT, _ := jwt.NewOperatorClaims(opPub).Encode(op)
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "orders"
	ac.Limits.Conn, ac.Limits.Subs = 5, 100
	accJWT, _ := ac.Encode(op)
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userJWT, _ := jwt.NewUserClaims(userPub).Encode(acc)
	seed, _ := user.Seed()

	o := testOptions()
	o.Auth = &broker.AuthOptions{Operator: &broker.OperatorOptions{
		Operators: []string{opJWT},
		Resolver:  broker.NewMemoryResolver(map[string]string{accPub: accJWT}),
	}}
	srv := started(t, newBrokerWith(t, o))
	connect(t, srv, nats.UserJWTAndSeed(userJWT, string(seed)))
	m := startMonitor(t, srv, monitor.Config{})
	var az struct {
		Account struct {
			Name        string `json:"account_name"`
			Connections int    `json:"client_connections"`
			NameTag     string `json:"name_tag"`
			IssuerKey   string `json:"issuer_key"`
			Decoded     struct {
				Nats struct {
					Limits struct {
						Conn int64 `json:"conn"`
						Subs int64 `json:"subs"`
					} `json:"limits"`
				} `json:"nats"`
			} `json:"decoded_jwt"`
		} `json:"account_detail"`
	}
	getJSON(t, client(t), m, "/accountz?acc="+accPub, &az)
	d := az.Account
	if d.Name != accPub || d.Connections != 1 || d.NameTag != "orders" || d.IssuerKey != opPub ||
		d.Decoded.Nats.Limits.Conn != 5 || d.Decoded.Nats.Limits.Subs != 100 {
		t.Fatalf("accountz of a JWT account: %+v", d)
	}
}
