package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
)

// operatorSetup writes an operator-mode config (operator JWT in a file,
// as nsc writes it; MEMORY resolver with preloaded accounts SYS and A,
// A limited to 2 connections) and creds for users of A: "good", an
// "expired" one and a "revoked" one.
func operatorSetup(t *testing.T) (conf string, creds map[string]string) {
	conf, creds, _ = operatorSetupJWTs(t)
	return conf, creds
}

// operatorSetupJWTs is operatorSetup that also returns the account JWTs
// by public key.
func operatorSetupJWTs(t *testing.T) (conf string, creds map[string]string, jwts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	decorated, _ := jwt.DecorateJWT(opJWT)
	if err := os.WriteFile(filepath.Join(dir, "op.jwt"), decorated, 0o600); err != nil {
		t.Fatal(err)
	}
	sysJWT, _ := jwt.NewAccountClaims(sysPub).Encode(op)

	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "A"
	ac.Limits.Conn = 2
	creds = map[string]string{}
	user := func(name string, edit func(*jwt.UserClaims)) string {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		uc := jwt.NewUserClaims(pub)
		uc.Name = name
		if edit != nil {
			edit(uc)
		}
		tok, err := uc.Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		b, _ := jwt.FormatUserConfig(tok, seed)
		path := filepath.Join(dir, name+".creds")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		creds[name] = path
		return pub
	}
	user("good", nil)
	user("expired", func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(-time.Hour).Unix() })
	revoked := user("revoked", nil)
	ac.RevokeAt(revoked, time.Now().Add(time.Minute))
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	conf = writeConf(t, dir, fmt.Sprintf(`
operator: %s
system_account: %s
resolver: MEMORY
resolver_preload: {
  %s: %s
  %s: %s
}
`, filepath.Join(dir, "op.jwt"), sysPub, sysPub, sysJWT, accPub, accJWT))
	return conf, creds, map[string]string{sysPub: sysJWT, accPub: accJWT}
}

// observeOperator is what a server answers: a good user's round trip,
// the errors of the refused users, and of a connection over A's limit.
func observeOperator(t *testing.T, url string, creds map[string]string) []string {
	t.Helper()
	dial := func(name string) (*nats.Conn, error) {
		return nats.Connect(url, nats.UserCredentials(creds[name]), nats.MaxReconnects(0), nats.Timeout(2*time.Second))
	}
	var out []string
	good, err := dial("good")
	if err != nil {
		t.Fatalf("%s: good user: %v", url, err)
	}
	defer good.Close()
	sub, _ := good.SubscribeSync("x")
	good.Flush()
	_ = good.Publish("x", []byte("hi"))
	if m, err := sub.NextMsg(2 * time.Second); err == nil {
		out = append(out, "good: "+string(m.Data))
	}
	for _, name := range []string{"expired", "revoked"} {
		nc, err := dial(name)
		if err == nil {
			nc.Close()
			out = append(out, name+": connected")
			continue
		}
		out = append(out, name+": "+strings.ToLower(err.Error()))
	}
	second, err := dial("good")
	if err != nil {
		t.Fatalf("%s: second connection: %v", url, err)
	}
	defer second.Close()
	if nc, err := dial("good"); err == nil {
		nc.Close()
		out = append(out, "third: connected")
	} else {
		out = append(out, "third: "+strings.ToLower(err.Error()))
	}
	return out
}

// TestOperatorConfigAsNatsServer runs one operator-mode config file on
// Murmur and on a real nats-server: the same users connect, the same are
// refused with the same errors, and A's conn limit answers alike.
func TestOperatorConfigAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	conf, creds := operatorSetup(t)
	cfg, srv := startFromFile(t, conf)
	if cfg.opts.Auth == nil || cfg.opts.Auth.Operator == nil {
		t.Fatalf("operator mode not configured: %+v", cfg.opts.Auth)
	}
	theirs := observeOperator(t, startNatsServer(t, bin, conf), creds)
	ours := observeOperator(t, srv.ClientURL(), creds)
	want := []string{
		"good: hi",
		"expired: nats: authorization violation",
		"revoked: nats: authorization violation",
		"third: nats: maximum account active connections exceeded",
	}
	if strings.Join(theirs, "\n") != strings.Join(want, "\n") {
		t.Errorf("nats-server:\n%s\nwant:\n%s", strings.Join(theirs, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("murmur:\n%s\nnats-server:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
}

// TestOperatorConfigErrors: operator-mode mistakes are config errors
// naming the key.
func TestOperatorConfigErrors(t *testing.T) {
	conf, _ := operatorSetup(t)
	base, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(conf)
	for _, tc := range []struct{ name, text, want string }{
		{"no resolver", strings.Replace(string(base), "resolver: MEMORY", "", 1), "operator mode needs a resolver"},
		{"bad resolver", strings.Replace(string(base), "resolver: MEMORY", "resolver: FOO", 1), `resolver: "FOO": want MEMORY, URL(<account server>) or`},
		{"missing operator file", strings.Replace(string(base), "op.jwt", "nope.jwt", 1), "operator: open"},
		{"users with an operator", string(base) + "\nauthorization { users: [{user: a, password: b}] }\n", "cannot be set with an operator"},
		{"system account not a key", strings.Replace(string(base), "system_account: A", "system_account: SYS\n#", 1), `system_account: "SYS" is not an account public key`},
	} {
		_, err := parseFlags([]string{"-c", writeConf(t, dir, tc.text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ".conf:") {
			t.Errorf("%s: %v, want a file:line error with %q", tc.name, err, tc.want)
		}
	}
}

// TestFullResolverConfig: `resolver { type: full, dir }` keeps account
// JWTs in the directory (resolver_preload seeds it) and takes pushes.
func TestFullResolverConfig(t *testing.T) {
	conf, creds := operatorSetup(t)
	base, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(conf), "jwt")
	text := strings.Replace(string(base), "resolver: MEMORY", "resolver: { type: full, dir: \""+dir+"\", interval: \"1m\", allow_delete: false }", 1)
	cfg, err := parseFlags([]string{"-c", writeConf(t, filepath.Dir(conf), text), "-a", "127.0.0.1", "-p", "-1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.opts.Auth.Operator.Resolver.(*broker.DirResolver); !ok || cfg.opts.Auth.Operator.SyncInterval != time.Minute {
		t.Fatalf("resolver %T, interval %v", cfg.opts.Auth.Operator.Resolver, cfg.opts.Auth.Operator.SyncInterval)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jwt"))
	if len(files) != 2 {
		t.Fatalf("preloaded JWT files: %v", files)
	}
	srv, err := broker.New(cfg.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(creds["good"]))
	if err != nil {
		t.Fatalf("user of a preloaded account: %v", err)
	}
	nc.Close()
	for _, bad := range []struct{ text, want string }{
		{"resolver: { type: full }", "dir: the full resolver needs a directory"},
		{"resolver: { type: cache, dir: x }", `type: "cache": want full`},
		{"resolver: { type: full, dir: x, allow_delete: maybe }", "allow_delete"},
	} {
		text := strings.Replace(string(base), "resolver: MEMORY", bad.text, 1)
		_, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), ".conf:") {
			t.Errorf("%s: %v, want a file:line error with %q", bad.text, err, bad.want)
		}
	}
}

// TestURLResolverAsNatsServer: `resolver: URL(...)` fetches account JWTs
// from an account server (here on loopback), once per account, and both
// Murmur and nats-server answer the same users alike with it.
func TestURLResolverAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	conf, creds, jwts := operatorSetupJWTs(t)
	var fetches atomic.Int32
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pub := strings.TrimPrefix(r.URL.Path, "/jwt/v1/accounts/")
		if pub == "" {
			return // nats-server checks the account server answers at start
		}
		tok, ok := jwts[pub]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		_, _ = io.WriteString(w, tok)
	}))
	defer as.Close()
	base, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	text := string(base)
	text = text[:strings.Index(text, "resolver: MEMORY")] + "resolver: URL(" + as.URL + "/jwt/v1/accounts/)\n"
	path := writeConf(t, t.TempDir(), text)
	cfg, srv := startFromFile(t, path)
	if _, ok := cfg.opts.Auth.Operator.Resolver.(*broker.URLResolver); !ok {
		t.Fatalf("resolver %T", cfg.opts.Auth.Operator.Resolver)
	}
	before := fetches.Load()
	ours := observeOperator(t, srv.ClientURL(), creds)
	if n := fetches.Load() - before; n != 1 {
		t.Errorf("murmur fetched account A %d times for 5 logins, want once", n)
	}
	theirs := observeOperator(t, startNatsServer(t, bin, path), creds)
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("murmur:\n%s\nnats-server:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
}
