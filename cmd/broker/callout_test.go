package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// calloutConf is an auth_callout config: the service logs in as auth in
// AUTH, admitted users land in APP.
func calloutConf(issuerPub string) string {
	return fmt.Sprintf(`
accounts {
  AUTH: { users: [ {user: auth, password: pwd} ] }
  APP: {}
}
authorization {
  timeout: 1
  auth_callout {
    issuer: %s
    account: AUTH
    auth_users: [ auth ]
  }
}
`, issuerPub)
}

// serveCallout runs a callout service on url: alice/secret lands in APP
// allowed app.>; anyone else gets an error answer.
func serveCallout(t *testing.T, url string, issuer nkeys.KeyPair) {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo("auth", "pwd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	_, err = nc.Subscribe("$SYS.REQ.USER.AUTH", func(m *nats.Msg) {
		req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
		resp.Audience = req.Server.ID
		if o := req.ConnectOptions; o.Username == "alice" && o.Password == "secret" {
			uc := jwt.NewUserClaims(req.UserNkey)
			uc.Audience = "APP"
			uc.Pub.Allow.Add("app.>")
			uc.Sub.Allow.Add("app.>", "_INBOX.>")
			resp.Jwt, _ = uc.Encode(issuer)
		} else {
			resp.Error = "not you"
		}
		tok, _ := resp.Encode(issuer)
		_ = m.Respond([]byte(tok))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
}

// observeCallout is what a server answers through the callout.
func observeCallout(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	errs := make(chan error, 2)
	alice, err := nats.Connect(url, nats.UserInfo("alice", "secret"), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		return append(out, "alice: "+err.Error())
	}
	defer alice.Close()
	sub, _ := alice.SubscribeSync("app.x")
	_ = alice.Publish("app.x", []byte("hi"))
	if m, err := sub.NextMsg(2 * time.Second); err == nil {
		out = append(out, "alice app.x: "+string(m.Data))
	}
	_ = alice.Publish("other.x", nil)
	_ = alice.Flush()
	select {
	case err := <-errs:
		out = append(out, "alice other.x: "+err.Error())
	case <-time.After(2 * time.Second):
		out = append(out, "alice other.x: allowed")
	}
	if nc, err := nats.Connect(url, nats.UserInfo("mallory", "x"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		out = append(out, "mallory: connected")
	} else {
		out = append(out, "mallory: "+strings.ToLower(err.Error()))
	}
	return out
}

// TestAuthCalloutAsNatsServer runs one auth_callout config and one
// callout service (nats.go + jwt/v2) against Murmur and a real
// nats-server: the same logins are admitted with the same permissions,
// the same refused.
func TestAuthCalloutAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	path := writeConf(t, t.TempDir(), calloutConf(issuerPub))
	cfg, srv := startFromFile(t, path)
	if c := cfg.opts.Auth.Callout; c == nil || c.Issuer != issuerPub || c.Account != "AUTH" || len(c.AuthUsers) != 1 {
		t.Fatalf("auth_callout: %+v", c)
	}
	serveCallout(t, srv.ClientURL(), issuer)
	ours := observeCallout(t, srv.ClientURL())
	theirsURL := startNatsServer(t, bin, path)
	serveCallout(t, theirsURL, issuer)
	theirs := observeCallout(t, theirsURL)
	want := []string{"alice app.x: hi", `alice other.x: nats: permissions violation: Permissions Violation for Publish to "other.x"`, "mallory: nats: authorization violation"}
	if strings.Join(theirs, "\n") != strings.Join(want, "\n") {
		t.Errorf("nats-server:\n%s\nwant:\n%s", strings.Join(theirs, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("murmur:\n%s\nnats-server:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	for _, bad := range []struct{ text, want string }{
		{strings.Replace(calloutConf(issuerPub), "auth_users: [ auth ]", "auth_users: [ ghost ]", 1), `auth_users: "ghost" is not a configured user`},
		{strings.Replace(calloutConf(issuerPub), issuerPub, "nope", 1), `issuer: "nope" is not an account public key`},
	} {
		_, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), bad.text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), ".conf:") {
			t.Errorf("%v, want a file:line error with %q", err, bad.want)
		}
	}
}
