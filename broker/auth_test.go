package broker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/murmurmq/murmur/broker"
)

func authServer(t *testing.T, a *broker.AuthOptions) *broker.Server {
	t.Helper()
	o := testOptions()
	o.Auth = a
	return startServer(t, o, nil)
}

func tryConnect(srv *broker.Server, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(srv.ClientURL(), append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(2 * time.Second)}, opts...)...)
}

func TestAuthToken(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Token: "s3cret"})
	nc, err := tryConnect(srv, nats.Token("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	for _, opts := range [][]nats.Option{{nats.Token("wrong")}, nil} {
		if nc, err := tryConnect(srv, opts...); !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Fatalf("bad token: %v", err)
		}
	}
	if n := srv.AuthFailures(); n != 2 {
		t.Fatalf("auth failures counted %d, want 2", n)
	}
}

func TestAuthUsersAndBcrypt(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	srv := authServer(t, &broker.AuthOptions{Users: []broker.User{
		{Name: "alice", Password: "plain"},
		{Name: "bob", Password: string(hash)},
	}})
	for _, ok := range []nats.Option{nats.UserInfo("alice", "plain"), nats.UserInfo("bob", "hunter2")} {
		nc, err := tryConnect(srv, ok)
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
	}
	for _, bad := range []nats.Option{nats.UserInfo("alice", "nope"), nats.UserInfo("bob", string(hash)), nats.UserInfo("eve", "plain")} {
		if _, err := tryConnect(srv, bad); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("bad credentials accepted or wrong error: %v", err)
		}
	}
}

func TestAuthRaw(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Token: "t", Timeout: 200 * time.Millisecond}
	// The first server PING comes at twice the auth timeout: it marks the
	// moment the timer would have fired (see the good token below).
	o.PingInterval = 2 * o.Auth.Timeout
	srv := startServer(t, o, nil)
	// INFO says auth is required.
	r := dialRaw(t, srv)
	info, _ := r.readInfo()
	if info["auth_required"] != true {
		t.Fatalf("INFO auth_required = %v", info["auth_required"])
	}
	// Any op before CONNECT: -ERR 'Authorization Violation', close.
	r.send("PING\r\n")
	r.expect("-ERR 'Authorization Violation'\r\n")
	r.expectClosed()
	// Silence: -ERR 'Authentication Timeout', close (before any PING).
	r2 := dialRaw(t, srv)
	r2.readInfo()
	r2.expect("-ERR 'Authentication Timeout'\r\n")
	r2.expectClosed()
	failures := srv.AuthFailures()
	// Good token: works, and the timer does not fire later. The timer,
	// armed first and for half as long as the PING's, would have sent its
	// -ERR before the PING (as for the silent client above).
	r3 := dialRaw(t, srv)
	r3.readInfo()
	r3.send(`CONNECT {"verbose":false,"auth_token":"t"}` + "\r\nPING\r\n")
	r3.expect("PONG\r\n")
	r3.expect("PING\r\n") // past the auth timeout
	r3.expectOpen()
	if n := srv.AuthFailures(); n != failures {
		t.Fatalf("auth failures went from %d to %d after a good token", failures, n)
	}
}

func TestPermissions(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{Users: []broker.User{
		{Name: "limited", Password: "p", Permissions: &broker.Permissions{
			Publish:   broker.SubjectRules{Allow: []string{"ok.>", "_INBOX.>"}, Deny: []string{"ok.secret"}},
			Subscribe: broker.SubjectRules{Allow: []string{"ok.>", "_INBOX.>"}},
		}},
		{Name: "admin", Password: "p"},
	}})
	errs := make(chan error, 10)
	nc, err := tryConnect(srv, nats.UserInfo("limited", "p"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	admin, _ := tryConnect(srv, nats.UserInfo("admin", "p"))
	defer admin.Close()
	spy, _ := admin.SubscribeSync(">")
	admin.Flush()

	expectErr := func(want string) {
		t.Helper()
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), want) {
				t.Fatalf("got %v, want %q", err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no async error %q", want)
		}
	}
	nc.Publish("nope", []byte("x"))
	expectErr(`permissions violation for publish to "nope"`)
	nc.Publish("ok.secret", []byte("x"))
	expectErr(`permissions violation for publish to "ok.secret"`)
	nc.Subscribe("other.*", func(*nats.Msg) {})
	expectErr(`permissions violation for subscription to "other.*"`)
	nc.QueueSubscribe("other", "q", func(*nats.Msg) {})
	expectErr(`permissions violation for subscription to "other" using queue "q"`)
	// Allowed traffic flows, the connection stayed up, and denied
	// messages never reached anyone.
	nc.Publish("ok.fine", []byte("y"))
	nc.Flush()
	if m := recv(t, spy); m.Subject != "ok.fine" {
		t.Fatalf("spy saw %q first: a denied publish got through", m.Subject)
	}
	if !nc.IsConnected() {
		t.Fatal("permission violations closed the connection")
	}
}

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T, cn string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t, "server")
	for _, first := range []bool{false, true} {
		o := testOptions()
		o.TLS = &broker.TLSOptions{Config: &tls.Config{Certificates: []tls.Certificate{cert}}, HandshakeFirst: first}
		srv := startServer(t, o, nil)
		opts := []nats.Option{nats.Secure(&tls.Config{RootCAs: pool})}
		if first {
			opts = append(opts, nats.TLSHandshakeFirst())
		}
		nc, err := tryConnect(srv, opts...)
		if err != nil {
			t.Fatalf("handshake_first=%v: %v", first, err)
		}
		s, _ := nc.SubscribeSync("tls")
		nc.Publish("tls", []byte("secure"))
		if m := recv(t, s); string(m.Data) != "secure" {
			t.Fatal("no message over TLS")
		}
		if !nc.TLSRequired() && !first {
			t.Fatal("INFO did not say tls_required")
		}
		nc.Close()
		// A client that does not trust the certificate is refused.
		_, otherPool := selfSigned(t, "other")
		bad := []nats.Option{nats.Secure(&tls.Config{RootCAs: otherPool})}
		if first {
			bad = append(bad, nats.TLSHandshakeFirst())
		}
		if nc, err := tryConnect(srv, bad...); err == nil {
			nc.Close()
			t.Fatalf("handshake_first=%v: untrusted certificate accepted", first)
		}
		eventually(t, 5*time.Second, "TLS failure counted", func() bool { return srv.TLSFailures() >= 1 })
	}
}

func TestTLSVerifyClientCert(t *testing.T) {
	cert, pool := selfSigned(t, "server")
	clientCert, clientPool := selfSigned(t, "client")
	o := testOptions()
	o.TLS = &broker.TLSOptions{Config: &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
	}}
	srv := startServer(t, o, nil)
	nc, err := tryConnect(srv, nats.Secure(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if nc, err := tryConnect(srv, nats.Secure(&tls.Config{RootCAs: pool})); err == nil {
		nc.Close()
		t.Fatal("client without a certificate accepted")
	}
}

// TestBcryptLoginsNotTimedOut: logins whose CONNECT arrived in time are not
// closed with 'Authentication Timeout' while their bcrypt hashes are being
// checked, even when checking takes longer than the auth timeout and
// several logins hash at once. They used to be: the timer kept running
// while the reader hashed.
func TestBcryptLoginsNotTimedOut(t *testing.T) {
	// A hash that takes at least four auth timeouts to check, with the
	// timeout long enough for a loaded machine to read a CONNECT in.
	const timeout = 150 * time.Millisecond
	var hash []byte
	var cost time.Duration
	for c := 10; c <= 15; c++ {
		h, err := bcrypt.GenerateFromPassword([]byte("hunter2"), c)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		bcrypt.CompareHashAndPassword(h, []byte("hunter2"))
		hash, cost = h, time.Since(start)
		if cost >= 4*timeout {
			break
		}
	}
	t.Logf("one bcrypt check takes %v here; auth timeout %v", cost, timeout)
	srv := authServer(t, &broker.AuthOptions{Timeout: timeout, Users: []broker.User{{Name: "bob", Password: string(hash)}}})
	const logins = 4
	errs := make(chan error, logins)
	for range logins {
		go func() {
			nc, err := tryConnect(srv, nats.UserInfo("bob", "hunter2"), nats.Timeout(30*time.Second))
			if err == nil {
				nc.Close()
			}
			errs <- err
		}()
	}
	for range logins {
		if err := <-errs; err != nil {
			t.Errorf("login: %v", err)
		}
	}
	// A client that sends nothing is still timed out.
	r := dialRaw(t, srv)
	r.readInfo()
	r.expect("-ERR 'Authentication Timeout'\r\n")
}
