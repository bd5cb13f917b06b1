package broker_test

import (
	"errors"
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

// trust is an operator, its resolver, and helpers to mint accounts and
// users, all generated in the test with jwt/v2 and nkeys.
type trust struct {
	t        *testing.T
	op       nkeys.KeyPair
	opJWT    string
	resolver *broker.MemoryResolver
}

func newTrust(t *testing.T) *trust {
	t.Helper()
	op, _ := nkeys.CreateOperator()
	pub, _ := op.PublicKey()
	oc := jwt.NewOperatorClaims(pub)
	oc.Name = "test-operator"
	tok, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	return &trust{t: t, op: op, opJWT: tok, resolver: broker.NewMemoryResolver(nil)}
}

// account is one minted account: its key and claims (edit, then push).
type testAccount struct {
	kp     nkeys.KeyPair
	pub    string
	claims *jwt.AccountClaims
}

// account mints an account signed by signer (the operator when nil), with
// edit applied to its claims, and stores it in the resolver.
func (tr *trust) account(name string, signer nkeys.KeyPair, edit func(*jwt.AccountClaims)) *testAccount {
	tr.t.Helper()
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	ac := jwt.NewAccountClaims(pub)
	ac.Name = name
	if edit != nil {
		edit(ac)
	}
	a := &testAccount{kp: kp, pub: pub, claims: ac}
	tr.store(a, signer)
	return a
}

// store (re)signs a's claims and puts them in the resolver.
func (tr *trust) store(a *testAccount, signer nkeys.KeyPair) {
	tr.t.Helper()
	if signer == nil {
		signer = tr.op
	}
	tok, err := a.claims.Encode(signer)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.resolver.Store(a.pub, tok)
}

// user mints a user of a signed by signer (a's own key when nil) and
// returns its creds file.
func (tr *trust) user(a *testAccount, name string, signer nkeys.KeyPair, edit func(*jwt.UserClaims)) string {
	tr.t.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	if signer != nil {
		uc.IssuerAccount = a.pub
	} else {
		signer = a.kp
	}
	if edit != nil {
		edit(uc)
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		tr.t.Fatal(err)
	}
	seed, _ := kp.Seed()
	creds, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		tr.t.Fatal(err)
	}
	path := filepath.Join(tr.t.TempDir(), name+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		tr.t.Fatal(err)
	}
	return path
}

func (tr *trust) server(sys *testAccount) *broker.Server {
	tr.t.Helper()
	o := testOptions()
	o.Auth = &broker.AuthOptions{Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: tr.resolver}}
	if sys != nil {
		o.Auth.SystemAccount = sys.pub
	}
	return startServer(tr.t, o, nil)
}

func credsConnect(srv *broker.Server, creds string, opts ...nats.Option) (*nats.Conn, error) {
	return tryConnect(srv, append([]nats.Option{nats.UserCredentials(creds)}, opts...)...)
}

func mustCreds(t *testing.T, srv *broker.Server, creds string) *nats.Conn {
	t.Helper()
	nc, err := credsConnect(srv, creds)
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func refused(t *testing.T, what string, srv *broker.Server, creds string) {
	t.Helper()
	nc, err := credsConnect(srv, creds)
	if err == nil {
		nc.Close()
		t.Fatalf("%s: connected", what)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("%s: %v, want Authorization Violation", what, err)
	}
}

// TestOperatorMode: users with creds connect into their JWT account, the
// accounts are isolated, and a user JWT whose chain does not hold is
// refused with 'Authorization Violation': an account the operator did not
// sign, a user its account did not sign, an expired user, a revoked one.
func TestOperatorMode(t *testing.T) {
	tr := newTrust(t)
	a := tr.account("A", nil, nil)
	b := tr.account("B", nil, nil)
	rogue, _ := nkeys.CreateOperator()
	unsigned := tr.account("U", rogue, nil)
	srv := tr.server(nil)

	na := mustCreds(t, srv, tr.user(a, "alice", nil, nil))
	nb := mustCreds(t, srv, tr.user(b, "bob", nil, nil))
	sb := subAll(t, nb)
	sa, err := na.SubscribeSync("greet")
	if err != nil {
		t.Fatal(err)
	}
	na.Flush()
	if err := na.Publish("greet", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := sa.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("within account A: %v", err)
	}
	noMsg(t, "B", sb, nb)

	refused(t, "account not signed by the operator", srv, tr.user(unsigned, "u", nil, nil))
	other, _ := nkeys.CreateAccount()
	refused(t, "user signed by an unknown signing key", srv, tr.user(a, "stray", other, nil))
	refused(t, "expired user", srv, tr.user(a, "old", nil, func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(-time.Minute).Unix() }))
	unknown := &testAccount{kp: other}
	unknown.pub, _ = other.PublicKey()
	refused(t, "account the resolver does not have", srv, tr.user(unknown, "ghost", nil, nil))

	revokedCreds := tr.user(a, "revoked", nil, nil)
	cr, _ := jwt.ParseDecoratedJWT(mustRead(t, revokedCreds))
	ruc, _ := jwt.DecodeUserClaims(cr)
	a.claims.Revoke(ruc.Subject)
	a.claims.IssuedAt = time.Now().Unix() + 1 // newer than the one the broker holds
	tr.store(a, nil)
	refused(t, "revoked user", srv, revokedCreds)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOperatorSigningKeys: a user signed by one of the account's signing
// keys connects; one signed by a scoped key gets the scope's template
// permissions, expanded for that user.
func TestOperatorSigningKeys(t *testing.T) {
	tr := newTrust(t)
	sk, _ := nkeys.CreateAccount()
	skPub, _ := sk.PublicKey()
	scoped, _ := nkeys.CreateAccount()
	scopedPub, _ := scoped.PublicKey()
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) {
		ac.SigningKeys.Add(skPub)
		us := jwt.NewUserScope()
		us.Key = scopedPub
		us.Template.Pub.Allow.Add("{{name()}}.>")
		us.Template.Sub.Allow.Add("_INBOX.>", "{{name()}}.>")
		ac.SigningKeys.AddScopedSigner(us)
	})
	srv := tr.server(nil)
	mustCreds(t, srv, tr.user(a, "signed-by-key", sk, nil))
	carol := mustCreds(t, srv, tr.user(a, "carol", scoped, func(uc *jwt.UserClaims) { uc.SetScoped(true) }))
	errs := make(chan error, 4)
	carol.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	mine, err := carol.SubscribeSync("carol.x")
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.Publish("carol.x", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("template-allowed subject: %v", err)
	}
	if err := carol.Publish("dave.x", nil); err != nil {
		t.Fatal(err)
	}
	carol.Flush()
	expectAsyncErr(t, errs, `Permissions Violation for Publish to "dave.x"`)
	// A scoped key may not sign users with permissions of their own.
	refused(t, "scoped user with its own permissions", srv, tr.user(a, "eve", scoped, func(uc *jwt.UserClaims) {
		uc.SetScoped(true)
		uc.Pub.Allow.Add(">")
	}))
}

// TestOperatorLimits: the account's conn limit refuses one connection too
// many with nats-server's error; the user's subs limit refuses one
// subscription too many; src CIDRs and expiry are enforced.
func TestOperatorLimits(t *testing.T) {
	tr := newTrust(t)
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	b := tr.account("B", nil, nil)
	srv := tr.server(nil)
	creds := tr.user(a, "one", nil, nil)
	first := mustCreds(t, srv, creds)
	if nc, err := credsConnect(srv, creds); err == nil {
		nc.Close()
		t.Fatal("second connection over the account's conn limit")
	} else if !strings.Contains(err.Error(), "maximum account active connections exceeded") {
		t.Fatalf("over conn limit: %v", err)
	}
	first.Close()
	eventually(t, 5*time.Second, "a connection slot after the first closed", func() bool {
		nc, err := credsConnect(srv, creds)
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})

	subs := mustCreds(t, srv, tr.user(b, "two-subs", nil, func(uc *jwt.UserClaims) { uc.Limits.Subs = 2 }))
	errs := make(chan error, 4)
	subs.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	for _, s := range []string{"a", "b", "c"} {
		if _, err := subs.SubscribeSync(s); err != nil {
			t.Fatal(err)
		}
	}
	subs.Flush()
	expectAsyncErr(t, errs, "maximum subscriptions exceeded")

	refused(t, "a WebSocket-only user over TCP", srv, tr.user(b, "ws-only", nil, func(uc *jwt.UserClaims) {
		uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeWebsocket)
	}))
	mustCreds(t, srv, tr.user(b, "standard", nil, func(uc *jwt.UserClaims) {
		uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard)
	}))
	refused(t, "source outside src", srv, tr.user(b, "remote-only", nil, func(uc *jwt.UserClaims) { uc.Src.Set("10.0.0.0/8") }))
	mustCreds(t, srv, tr.user(b, "local", nil, func(uc *jwt.UserClaims) { uc.Src.Set("127.0.0.0/8") }))

	closed := make(chan error, 1)
	short, err := credsConnect(srv, tr.user(b, "short", nil, func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(1500 * time.Millisecond).Unix() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { closed <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	select {
	case err := <-closed:
		if !strings.Contains(err.Error(), "user authentication expired") && !errors.Is(err, nats.ErrAuthExpired) {
			t.Fatalf("at expiry: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a user JWT's expiry did not close its connection")
	}
}

// TestOperatorImports: a public stream export and a private service export
// (activation token) between JWT accounts; an import of a private export
// without a token delivers nothing.
func TestOperatorImports(t *testing.T) {
	tr := newTrust(t)
	b := tr.account("B", nil, nil)
	c := tr.account("C", nil, nil)
	a := tr.account("A", nil, func(ac *jwt.AccountClaims) {
		ac.Exports.Add(&jwt.Export{Subject: "a.events.>", Type: jwt.Stream},
			&jwt.Export{Subject: "a.svc", Type: jwt.Service, TokenReq: true})
	})
	act := jwt.NewActivationClaims(b.pub)
	act.ImportSubject, act.ImportType = "a.svc", jwt.Service
	token, err := act.Encode(a.kp)
	if err != nil {
		t.Fatal(err)
	}
	b.claims.Imports.Add(&jwt.Import{Account: a.pub, Subject: "a.events.>", Type: jwt.Stream},
		&jwt.Import{Account: a.pub, Subject: "a.svc", Type: jwt.Service, Token: token})
	tr.store(b, nil)
	c.claims.Imports.Add(&jwt.Import{Account: a.pub, Subject: "a.svc", Type: jwt.Service}) // no token
	tr.store(c, nil)
	srv := tr.server(nil)

	na := mustCreds(t, srv, tr.user(a, "svc", nil, nil))
	if _, err := na.Subscribe("a.svc", func(m *nats.Msg) { _ = m.Respond([]byte("served")) }); err != nil {
		t.Fatal(err)
	}
	na.Flush()
	nb := mustCreds(t, srv, tr.user(b, "client", nil, nil))
	events, err := nb.SubscribeSync("a.events.>")
	if err != nil {
		t.Fatal(err)
	}
	nb.Flush()
	if m, err := nb.Request("a.svc", nil, 2*time.Second); err != nil || string(m.Data) != "served" {
		t.Fatalf("private service with an activation token: %v", err)
	}
	if err := na.Publish("a.events.1", []byte("e")); err != nil {
		t.Fatal(err)
	}
	if _, err := events.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("public stream import: %v", err)
	}
	nc := mustCreds(t, srv, tr.user(c, "tokenless", nil, nil))
	if _, err := nc.Request("a.svc", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("private service without a token: %v", err)
	}
}

// TestOperatorSystemAccount: the operator's system account (named by its
// public key) is the system account: its users can ping, others cannot.
func TestOperatorSystemAccount(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	a := tr.account("A", nil, nil)
	srv := tr.server(sys)
	resp, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))
	if _, err := admin.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second); err != nil {
		t.Fatalf("system account ping: %v", err)
	}
	na := mustCreds(t, srv, tr.user(a, "app", nil, nil))
	if _, err := na.Request("$SYS.REQ.SERVER.PING", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("account A reached the system responder: %v", err)
	}
}

// TestOperatorAccountTokenPosition: an export with account_token_position
// (as nsc gives the system account's $SYS.REQ.ACCOUNT.*.*) may be imported
// only with the importer's own key at that position: a wildcard import is
// skipped, so no account reaches another's monitoring.
func TestOperatorAccountTokenPosition(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, func(ac *jwt.AccountClaims) {
		ac.Exports.Add(&jwt.Export{Subject: "$SYS.REQ.ACCOUNT.*.*", Type: jwt.Service, AccountTokenPosition: 4})
	})
	victim := tr.account("V", nil, nil)
	evil := tr.account("E", nil, nil)
	own := tr.account("O", nil, nil)
	evil.claims.Imports.Add(&jwt.Import{Account: sys.pub, Subject: "$SYS.REQ.ACCOUNT.*.*", Type: jwt.Service})
	tr.store(evil, nil)
	own.claims.Imports.Add(&jwt.Import{Account: sys.pub, Subject: jwt.Subject("$SYS.REQ.ACCOUNT." + own.pub + ".*"), Type: jwt.Service})
	tr.store(own, nil)
	srv := tr.server(sys)
	resp, err := srv.StartSystem(broker.SystemOptions{AccountEndpoints: echoEndpoints("one")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	mustCreds(t, srv, tr.user(victim, "v", nil, nil))
	e := mustCreds(t, srv, tr.user(evil, "e", nil, nil))
	if _, err := e.Request("$SYS.REQ.ACCOUNT."+victim.pub+".CONNZ", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("a wildcard import of a token-position export reached another account: %v", err)
	}
	o := mustCreds(t, srv, tr.user(own, "o", nil, nil))
	if r, err := askAccount(t, o, "$SYS.REQ.ACCOUNT."+own.pub+".CONNZ"); err != nil || r.Data.Acc != own.pub {
		t.Fatalf("an import of its own slice: %v %+v", err, r)
	}
}
