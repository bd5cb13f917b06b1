package broker_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
)

// signed encodes a's claims with the trust's operator.
func (tr *trust) signed(a *testAccount) string {
	tr.t.Helper()
	tok, err := a.claims.Encode(tr.op)
	if err != nil {
		tr.t.Fatal(err)
	}
	return tok
}

// dirServer starts a broker in operator mode with a full resolver in its
// own directory holding the given accounts, and its system responder.
func (tr *trust) dirServer(sys *testAccount, hold []*testAccount, set func(*broker.Options)) (*broker.Server, string) {
	tr.t.Helper()
	dir := tr.t.TempDir()
	r, err := broker.NewDirResolver(dir, false)
	if err != nil {
		tr.t.Fatal(err)
	}
	for _, a := range append([]*testAccount{sys}, hold...) {
		if _, err := r.Store(a.pub, tr.signed(a)); err != nil {
			tr.t.Fatal(err)
		}
	}
	o := testOptions()
	o.Auth = &broker.AuthOptions{SystemAccount: sys.pub,
		Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: r, SyncInterval: 200 * time.Millisecond}}
	if set != nil {
		set(&o)
	}
	srv := startServer(tr.t, o, nil)
	resp, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.t.Cleanup(resp.Close)
	return srv, dir
}

type claimAnswer struct {
	Data *struct {
		Account string `json:"account"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"data"`
	Error *struct {
		Account     string `json:"account"`
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

func push(t *testing.T, nc *nats.Conn, token string) claimAnswer {
	t.Helper()
	m, err := nc.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(token), 2*time.Second)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	var a claimAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		t.Fatalf("push answer %s: %v", m.Data, err)
	}
	return a
}

// expectAsyncErr waits for an error on errs (a client's error or
// disconnect handler) containing want, in any case.
func expectAsyncErr(t *testing.T, errs <-chan error, want string) {
	t.Helper()
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Fatalf("got %v, want an error with %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no error with %q", want)
	}
}

func watchErrors(t *testing.T, srv *broker.Server, creds string) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 4)
	nc, err := credsConnect(srv, creds,
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }),
		// nats.go takes some -ERRs as a reason to disconnect, not as an
		// async error.
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				errs <- err
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// TestClaimsPush: a pushed account JWT ($SYS.REQ.CLAIMS.UPDATE, as nsc
// push sends) is checked, stored on disk, answered as nats-server, and
// applied at once: a revoked user is closed, a lowered conn limit closes
// the newest connection. Lookups and lists answer from the store; a JWT
// the operator did not sign is refused.
func TestClaimsPush(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, nil)
	srv, dir := tr.dirServer(sys, []*testAccount{a}, nil)
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))

	victimCreds := tr.user(a, "victim", nil, nil)
	_, victimErrs := watchErrors(t, srv, victimCreds)
	tok, _ := jwt.ParseDecoratedJWT(mustRead(t, victimCreds))
	vuc, _ := jwt.DecodeUserClaims(tok)
	first, _ := watchErrors(t, srv, tr.user(a, "first", nil, nil))
	_, secondErrs := watchErrors(t, srv, tr.user(a, "second", nil, nil))

	a.claims.RevokeAt(vuc.Subject, time.Now().Add(time.Minute))
	a.claims.Limits.Conn = 1 // first stays; second is one too many
	updated := tr.signed(a)
	if ans := push(t, admin, updated); ans.Data == nil || ans.Data.Code != 200 || ans.Data.Message != "jwt updated" || ans.Data.Account != a.pub {
		t.Fatalf("push answer: %+v", ans)
	}
	expectAsyncErr(t, victimErrs, "authorization violation")
	expectAsyncErr(t, secondErrs, "maximum account active connections exceeded")
	if err := first.Flush(); err != nil {
		t.Fatalf("the oldest connection within the limit: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, a.pub+".jwt")); err != nil || string(b) != updated {
		t.Fatalf("stored JWT: %v", err)
	}
	m, err := admin.Request("$SYS.REQ.ACCOUNT."+a.pub+".CLAIMS.LOOKUP", nil, 2*time.Second)
	if err != nil || string(m.Data) != updated {
		t.Fatalf("lookup: %v", err)
	}
	m, err = admin.Request("$SYS.REQ.CLAIMS.LIST", nil, 2*time.Second)
	if err != nil || !strings.Contains(string(m.Data), a.pub) || !strings.Contains(string(m.Data), sys.pub) {
		t.Fatalf("list: %v", err)
	}

	rogue, _ := nkeys.CreateOperator()
	bad, _ := a.claims.Encode(rogue)
	if ans := push(t, admin, bad); ans.Error == nil || ans.Error.Code != 500 || !strings.HasPrefix(ans.Error.Description, "jwt validation failed - ") {
		t.Fatalf("rogue push answer: %+v", ans)
	}
	if ans := push(t, admin, "not a jwt"); ans.Error == nil || !strings.HasPrefix(ans.Error.Description, "jwt update resulted in error") {
		t.Fatalf("garbage push answer: %+v", ans)
	}
	// A pushed new account can be logged into at once; its users reach
	// none of the claims subjects.
	b := tr.account("B", nil, nil)
	if ans := push(t, admin, tr.signed(b)); ans.Data == nil || ans.Data.Account != b.pub {
		t.Fatalf("push of a new account: %+v", ans)
	}
	// Without allow_delete, a delete request is refused.
	opPub, _ := tr.op.PublicKey()
	gc := jwt.NewGenericClaims(opPub)
	gc.Data["accounts"] = []string{b.pub}
	del, _ := gc.Encode(tr.op)
	if m, err := admin.Request("$SYS.REQ.CLAIMS.DELETE", []byte(del), 2*time.Second); err != nil || !strings.Contains(string(m.Data), "delete must be enabled in server config") {
		t.Fatalf("delete without allow_delete: %v %s", err, m.Data)
	}
	nb := mustCreds(t, srv, tr.user(b, "outsider", nil, nil))
	if _, err := nb.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(updated), time.Second); err == nil {
		t.Fatal("an account user reached the claims update")
	}
}

// TestClaimsAcrossCluster: a push on one broker reaches every broker of
// a 3-broker cluster (a client on another broker sees its new limit), and
// a broker whose resolver lacks an account gets it from the others.
func TestClaimsAcrossCluster(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, nil)
	late := tr.account("LATE", nil, nil)
	var srvs []*broker.Server
	var dirs []string
	for i := range 3 {
		hold := []*testAccount{a, late}
		if i == 2 {
			hold = []*testAccount{a} // broker 2 never heard of LATE
		}
		s, d := tr.dirServer(sys, hold, func(o *broker.Options) { clusterOptions(o, i) })
		srvs, dirs = append(srvs, s), append(dirs, d)
	}
	meshUp(t, srvs)

	// Broker 2 gets LATE from the others through the periodic sync.
	lateCreds := tr.user(late, "late", nil, nil)
	eventually(t, 10*time.Second, "LATE synced to broker 2", func() bool {
		nc, err := credsConnect(srvs[2], lateCreds)
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})

	farCreds := tr.user(a, "far", nil, nil)
	_, farErrs := watchErrors(t, srvs[2], farCreds)
	tok, _ := jwt.ParseDecoratedJWT(mustRead(t, farCreds))
	far, _ := jwt.DecodeUserClaims(tok)
	near, nearErrs := watchErrors(t, srvs[1], tr.user(a, "near", nil, nil))
	admin := mustCreds(t, srvs[0], tr.user(sys, "admin", nil, nil))
	eventually(t, 5*time.Second, "every broker's claims interest on broker 0", func() bool {
		n, _ := srvs[0].CountMatches(sys.pub, "$SYS.REQ.CLAIMS.UPDATE")
		return n == 3
	})
	a.claims.RevokeAt(far.Subject, time.Now().Add(time.Minute))
	a.claims.Limits.Subs = 1
	updated := tr.signed(a)
	if ans := push(t, admin, updated); ans.Data == nil || ans.Data.Code != 200 {
		t.Fatalf("push answer: %+v", ans)
	}
	for _, d := range dirs {
		eventually(t, 5*time.Second, "the pushed JWT stored by every broker", func() bool {
			b, err := os.ReadFile(filepath.Join(d, a.pub+".jwt"))
			return err == nil && string(b) == updated
		})
	}
	// The revocation closes the user on broker 2; the new subs limit
	// holds for A's client on broker 1.
	expectAsyncErr(t, farErrs, "authorization violation")
	// Broker 1 applies the stored JWT to its clients just after storing
	// it: subscribe until the limit answers.
	n := 0
	eventually(t, 5*time.Second, "the pushed subs limit on broker 1", func() bool {
		n++
		if _, err := near.SubscribeSync(fmt.Sprintf("s%d", n)); err != nil {
			t.Fatal(err)
		}
		near.Flush()
		select {
		case err := <-nearErrs:
			return strings.Contains(err.Error(), "maximum subscriptions exceeded")
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

// TestAccountConnLimitAcrossCluster: an account's conn limit counts its
// clients on every broker; a broker whose routes learn of more clients
// than the limit closes its newest beyond it; a broker's count is
// forgotten when it leaves.
func TestAccountConnLimitAcrossCluster(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 2 })
	var srvs []*broker.Server
	for i := range 2 {
		s, _ := tr.dirServer(sys, []*testAccount{a}, func(o *broker.Options) { clusterOptions(o, i) })
		srvs = append(srvs, s)
	}
	meshUp(t, srvs)
	creds := tr.user(a, "u", nil, nil)
	mustCreds(t, srvs[0], creds)
	mustCreds(t, srvs[1], creds)
	// Each broker learns the other's count (a probe that got in would
	// itself push the total over and close someone: wait, then probe).
	for _, s := range srvs {
		eventually(t, 5*time.Second, "the other broker's client counted", func() bool {
			for _, ai := range s.Accounts() {
				if ai.Name == a.pub {
					return ai.RemoteConnections == 1
				}
			}
			return false
		})
	}
	for i, s := range srvs {
		if nc, err := credsConnect(s, creds); err == nil {
			nc.Close()
			t.Fatalf("a third client admitted on broker %d", i)
		} else if !strings.Contains(err.Error(), "maximum account active connections exceeded") {
			t.Fatalf("broker %d: %v", i, err)
		}
	}
	srvs[1].Close()
	eventually(t, 5*time.Second, "broker 1's client forgotten with its route", func() bool {
		nc, err := credsConnect(srvs[0], creds)
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
}

// TestClaimsPushLowersSubs: a pushed subs limit applies to a connected
// client's next SUB; an account JWT breaking its operator limits (more
// imports than allowed) is refused.
func TestClaimsPushLowersSubs(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, nil)
	srv, _ := tr.dirServer(sys, []*testAccount{a}, nil)
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))
	nc, errs := watchErrors(t, srv, tr.user(a, "subber", nil, nil))
	for _, s := range []string{"a", "b"} {
		if _, err := nc.SubscribeSync(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a.claims.Limits.Subs = 2
	if ans := push(t, admin, tr.signed(a)); ans.Data == nil {
		t.Fatalf("push: %+v", ans)
	}
	if _, err := nc.SubscribeSync("c"); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	expectAsyncErr(t, errs, "maximum subscriptions exceeded")

	a.claims.Limits.Imports = 0
	a.claims.Imports.Add(&jwt.Import{Account: sys.pub, Subject: "x", Type: jwt.Stream})
	if ans := push(t, admin, tr.signed(a)); ans.Error == nil || !strings.Contains(ans.Error.Description, "more imports than allowed") {
		t.Fatalf("an account over its import limit: %+v", ans)
	}
}

// TestClaimsDelete: with allow_delete, an operator-signed delete request
// removes accounts from the resolver and closes their clients; without
// it, or signed by anyone else, it is refused; the system account cannot
// be deleted.
func TestClaimsDelete(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, nil)
	dir := t.TempDir()
	r, err := broker.NewDirResolver(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, acc := range []*testAccount{sys, a} {
		if _, err := r.Store(acc.pub, tr.signed(acc)); err != nil {
			t.Fatal(err)
		}
	}
	o := testOptions()
	o.Auth = &broker.AuthOptions{SystemAccount: sys.pub, Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: r}}
	srv := startServer(t, o, nil)
	resp, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))
	creds := tr.user(a, "doomed", nil, nil)
	_, errs := watchErrors(t, srv, creds)

	deleteReq := func(signer nkeys.KeyPair, accounts ...string) claimAnswer {
		pub, _ := signer.PublicKey()
		gc := jwt.NewGenericClaims(pub)
		gc.Data["accounts"] = accounts
		tok, err := gc.Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		m, err := admin.Request("$SYS.REQ.CLAIMS.DELETE", []byte(tok), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ans claimAnswer
		if err := json.Unmarshal(m.Data, &ans); err != nil {
			t.Fatal(err)
		}
		return ans
	}
	rogue, _ := nkeys.CreateOperator()
	if ans := deleteReq(rogue, a.pub); ans.Error == nil || !strings.Contains(ans.Error.Description, "not trusted") {
		t.Fatalf("delete by an untrusted key: %+v", ans)
	}
	if ans := deleteReq(tr.op, sys.pub); ans.Error == nil || !strings.Contains(ans.Error.Description, "not allowed to delete system account") {
		t.Fatalf("delete of the system account: %+v", ans)
	}
	if ans := deleteReq(tr.op, a.pub); ans.Data == nil || ans.Data.Message != "deleted 1 accounts" {
		t.Fatalf("delete: %+v", ans)
	}
	expectAsyncErr(t, errs, "authorization violation")
	refused(t, "user of a deleted account", srv, creds)
	if _, err := os.Stat(filepath.Join(dir, a.pub+".jwt")); !os.IsNotExist(err) {
		t.Fatalf("deleted account's file: %v", err)
	}
}

// TestAccountJWTExpiry: when an account JWT expires its clients are closed
// with -ERR 'Account Authentication Expired', as nats-server.
func TestAccountJWTExpiry(t *testing.T) {
	tr := newTrust(t)
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) { ac.Expires = time.Now().Add(2 * time.Second).Unix() })
	srv := tr.server(nil)
	_, errs := watchErrors(t, srv, tr.user(a, "u", nil, nil))
	expectAsyncErr(t, errs, "account authentication expired")
}
