package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
)

// calloutAuth: the callout service logs in as auth (account AUTH); users
// it admits land in APP.
func calloutAuth(issuer, xkey string) *broker.AuthOptions {
	return &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "AUTH", Users: []broker.User{{Name: "auth", Password: "pwd"}}},
			{Name: "APP"},
		},
		Callout: &broker.AuthCallout{Issuer: issuer, Account: "AUTH", AuthUsers: []string{"auth"}, XKey: xkey},
		Timeout: 500 * time.Millisecond,
	}
}

// runCalloutService answers $SYS.REQ.USER.AUTH as a callout service built
// on nats.go and jwt/v2 would: alice/secret is admitted into APP with
// app.> permissions; slow gets no answer; anyone else an error. With
// xcurve set, requests and answers are sealed.
func runCalloutService(t *testing.T, srv *broker.Server, issuer nkeys.KeyPair, xcurve nkeys.KeyPair) {
	t.Helper()
	nc, err := tryConnect(srv, nats.UserInfo("auth", "pwd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	_, err = nc.Subscribe(broker.CalloutSubject, func(m *nats.Msg) {
		data := m.Data
		serverX := m.Header.Get("Nats-Server-Xkey")
		if xcurve != nil {
			if data, err = xcurve.Open(m.Data, serverX); err != nil {
				t.Errorf("open request: %v", err)
				return
			}
		}
		req, err := jwt.DecodeAuthorizationRequestClaims(string(data))
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		if req.Issuer != req.Server.ID || req.Audience != "nats-authorization-request" {
			t.Errorf("request not signed by its server: issuer %s, server %+v", req.Issuer, req.Server)
		}
		opts := req.ConnectOptions
		if opts.Username == "slow" {
			return
		}
		resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
		resp.Audience = req.Server.ID
		if opts.Username == "alice" && opts.Password == "secret" {
			uc := jwt.NewUserClaims(req.UserNkey)
			uc.Name = "alice"
			uc.Audience = "APP"
			uc.Pub.Allow.Add("app.>")
			uc.Sub.Allow.Add("app.>", "_INBOX.>")
			if resp.Jwt, err = uc.Encode(issuer); err != nil {
				t.Error(err)
			}
		} else {
			resp.Error = "unknown user " + opts.Username
		}
		tok, err := resp.Encode(issuer)
		if err != nil {
			t.Error(err)
			return
		}
		out := []byte(tok)
		if xcurve != nil {
			if out, err = xcurve.Seal(out, serverX); err != nil {
				t.Error(err)
				return
			}
		}
		_ = m.Respond(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func checkCallout(t *testing.T, srv *broker.Server) {
	t.Helper()
	errs := make(chan error, 4)
	alice, err := tryConnect(srv, nats.UserInfo("alice", "secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("alice through the callout: %v", err)
	}
	defer alice.Close()
	sub, err := alice.SubscribeSync("app.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Publish("app.x", []byte("in APP")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "in APP" {
		t.Fatalf("alice's own subject: %v", err)
	}
	if err := alice.Publish("other.x", nil); err != nil {
		t.Fatal(err)
	}
	alice.Flush()
	expectAsyncErr(t, errs, `Permissions Violation for Publish to "other.x"`)
	for _, bad := range []struct{ user, pass string }{{"alice", "wrong"}, {"bob", "x"}, {"slow", "x"}, {"", ""}} {
		if nc, err := tryConnect(srv, nats.UserInfo(bad.user, bad.pass)); err == nil {
			nc.Close()
			t.Fatalf("%q admitted", bad.user)
		} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("%q: %v, want Authorization Violation", bad.user, err)
		}
	}
}

// TestAuthCallout: logins go to the callout service, which admits alice
// into APP with its permissions and refuses the rest (an error answer,
// no answer within the auth timeout); the service's own login bypasses
// it.
func TestAuthCallout(t *testing.T) {
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	o := testOptions()
	o.Auth = calloutAuth(issuerPub, "")
	srv := startServer(t, o, nil)
	runCalloutService(t, srv, issuer, nil)
	checkCallout(t, srv)

	// An answer signed by another key is refused.
	rogue, _ := nkeys.CreateAccount()
	o2 := testOptions()
	o2.Auth = calloutAuth(issuerPub, "")
	srv2 := startServer(t, o2, nil)
	runCalloutService(t, srv2, rogue, nil)
	if nc, err := tryConnect(srv2, nats.UserInfo("alice", "secret")); err == nil {
		nc.Close()
		t.Fatal("an answer from another issuer admitted alice")
	}
}

// TestAuthCalloutXKey: with an xkey, requests are sealed to the service's
// curve key and sealed answers are opened.
func TestAuthCalloutXKey(t *testing.T) {
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	xk, _ := nkeys.CreateCurveKeys()
	xpub, _ := xk.PublicKey()
	o := testOptions()
	o.Auth = calloutAuth(issuerPub, xpub)
	srv := startServer(t, o, nil)
	runCalloutService(t, srv, issuer, xk)
	checkCallout(t, srv)
}

// TestAuthCalloutAcrossRoutes: the service on one broker decides logins
// on another.
func TestAuthCalloutAcrossRoutes(t *testing.T) {
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	srvs := startMeshWith(t, 2, func(o *broker.Options) { o.Auth = calloutAuth(issuerPub, "") })
	runCalloutService(t, srvs[1], issuer, nil)
	eventually(t, 5*time.Second, "the service's interest on broker 0", func() bool {
		n, _ := srvs[0].CountMatches("AUTH", broker.CalloutSubject)
		return n > 0
	})
	checkCallout(t, srvs[0])
}

// TestAuthCalloutConfigErrors: the callout's settings are checked.
func TestAuthCalloutConfigErrors(t *testing.T) {
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	for _, tc := range []struct {
		name string
		edit func(*broker.AuthCallout)
		want string
	}{
		{"issuer not a key", func(c *broker.AuthCallout) { c.Issuer = "nope" }, "auth_callout.issuer"},
		{"no auth users", func(c *broker.AuthCallout) { c.AuthUsers = nil }, "auth_callout.auth_users"},
		{"unknown auth user", func(c *broker.AuthCallout) { c.AuthUsers = []string{"ghost"} }, `"ghost" is not a configured user`},
		{"unknown account", func(c *broker.AuthCallout) { c.Account = "NOPE" }, `auth_callout.account: "NOPE"`},
		{"bad xkey", func(c *broker.AuthCallout) { c.XKey = "Xbad" }, "auth_callout.xkey"},
	} {
		o := testOptions()
		o.Auth = calloutAuth(issuerPub, "")
		tc.edit(o.Auth.Callout)
		if _, err := broker.New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestAuthCalloutOperatorMode: an account JWT with external authorization
// hands its logins (but its auth users') to a service in it; the user
// JWT the service returns, signed by an allowed account, places the user
// there with that JWT's permissions.
func TestAuthCalloutOperatorMode(t *testing.T) {
	tr := newTrust(t)
	app := tr.account("APP", nil, nil)
	servicePair, _ := nkeys.CreateUser()
	servicePub, _ := servicePair.PublicKey()
	auth := tr.account("AUTH", nil, func(ac *jwt.AccountClaims) {
		ac.Authorization.AuthUsers.Add(servicePub)
		ac.Authorization.AllowedAccounts.Add(app.pub)
	})
	sys := tr.account("SYS", nil, nil)
	srv := tr.server(sys)
	resp, err := srv.StartSystem(broker.SystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()

	// The service logs in with its own user of AUTH (an auth user).
	suc := jwt.NewUserClaims(servicePub)
	stok, _ := suc.Encode(auth.kp)
	sseed, _ := servicePair.Seed()
	service, err := tryConnect(srv, nats.UserJWTAndSeed(stok, string(sseed)))
	if err != nil {
		t.Fatalf("the service's own login: %v", err)
	}
	defer service.Close()
	if _, err := service.Subscribe(broker.CalloutSubject, func(m *nats.Msg) {
		req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
		if err != nil {
			t.Error(err)
			return
		}
		resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
		resp.Audience = req.Server.ID
		if req.ConnectOptions.Username == "alice" && req.ConnectOptions.Password == "secret" {
			uc := jwt.NewUserClaims(req.UserNkey)
			uc.Pub.Allow.Add("app.>")
			uc.Sub.Allow.Add("app.>", "_INBOX.>")
			resp.Jwt, _ = uc.Encode(app.kp) // placed in APP
		} else {
			resp.Error = "no"
		}
		tok, _ := resp.Encode(auth.kp)
		_ = m.Respond([]byte(tok))
	}); err != nil {
		t.Fatal(err)
	}
	service.Flush()

	// Clients present a sentinel JWT of AUTH plus their credentials.
	sentinel := tr.user(auth, "sentinel", nil, func(uc *jwt.UserClaims) { uc.BearerToken = true })
	alice, err := credsConnect(srv, sentinel, nats.UserInfo("alice", "secret"))
	if err != nil {
		t.Fatalf("alice through the account's callout: %v", err)
	}
	defer alice.Close()
	sub, _ := alice.SubscribeSync("app.x")
	_ = alice.Publish("app.x", []byte("hi"))
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("alice in APP: %v", err)
	}
	// Alice is in APP: a user of APP sees her message.
	other := mustCreds(t, srv, tr.user(app, "watcher", nil, nil))
	ws, _ := other.SubscribeSync("app.y")
	other.Flush()
	_ = alice.Publish("app.y", []byte("to APP"))
	if _, err := ws.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("alice's message in APP: %v", err)
	}
	if nc, err := credsConnect(srv, sentinel, nats.UserInfo("mallory", "x")); err == nil {
		nc.Close()
		t.Fatal("mallory admitted")
	}

	// APP revokes every user it issued until now: alice, admitted by the
	// callout, is closed too.
	aliceErrs := make(chan error, 4)
	alice.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { aliceErrs <- err })
	app.claims.RevokeAt(jwt.All, time.Now().Add(time.Minute))
	admin := mustCreds(t, srv, tr.user(sys, "admin", nil, nil))
	if ans := push(t, admin, tr.signed(app)); ans.Data == nil {
		t.Fatalf("push: %+v", ans)
	}
	expectAsyncErr(t, aliceErrs, "authorization violation")
}
