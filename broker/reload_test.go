package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

func TestReloadLimitsKeepsConnections(t *testing.T) {
	srv := startServer(t, testOptions(), nil)
	old := connectTCP(t, srv)
	s, _ := old.SubscribeSync("r")
	old.Flush()
	o := srv.Options()
	o.MaxPayload = 2048
	o.PingInterval = time.Minute
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	nc := connectTCP(t, srv)
	if nc.MaxPayload() != 2048 {
		t.Fatalf("new connection sees max_payload %d", nc.MaxPayload())
	}
	// The old connection stayed up and now also has the new limit.
	old.Publish("r", []byte("still here"))
	if m := recv(t, s); string(m.Data) != "still here" {
		t.Fatal("old connection broken by reload")
	}
	r := dialRaw(t, srv)
	r.readInfo()
	r.send("CONNECT {\"verbose\":false}\r\nPUB big 4096\r\n")
	r.expect("-ERR 'Maximum Payload Violation'\r\n")
	// Changes that need a restart are refused, naming the field.
	o.Name = "renamed"
	if err := srv.Reload(o); err == nil || !strings.Contains(err.Error(), "server_name") {
		t.Fatalf("name change: %v", err)
	}
	if srv.Options().MaxPayload != 2048 {
		t.Fatal("a refused reload changed the running config")
	}
}

func TestReloadUsers(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Users: []broker.User{{Name: "a", Password: "1"}, {Name: "b", Password: "2"}}}
	srv := startServer(t, o, nil)
	var bClosed, bAuthErr atomic.Bool
	a, err := tryConnect(srv, nats.UserInfo("a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := tryConnect(srv, nats.UserInfo("b", "2"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrAuthorization) {
			bAuthErr.Store(true)
		}
	}),
		nats.ClosedHandler(func(*nats.Conn) { bClosed.Store(true) }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Remove b, add c, restrict a.
	o.Auth = &broker.AuthOptions{Users: []broker.User{
		{Name: "a", Password: "1", Permissions: &broker.Permissions{Publish: broker.SubjectRules{Allow: []string{"a.>"}}}},
		{Name: "c", Password: "3"},
	}}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "revoked user disconnected", func() bool { return bClosed.Load() })
	if !bAuthErr.Load() {
		t.Fatalf("revoked client did not get 'Authorization Violation' (last error %v)", b.LastError())
	}
	if err := a.Flush(); err != nil {
		t.Fatalf("unrelated client dropped: %v", err)
	}
	c, err := tryConnect(srv, nats.UserInfo("c", "3"))
	if err != nil {
		t.Fatalf("added user: %v", err)
	}
	c.Close()
	if _, err := tryConnect(srv, nats.UserInfo("b", "2")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("removed user: %v", err)
	}
	// a's new permissions apply to its existing connection.
	errs := make(chan error, 1)
	a.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	a.Publish("b.x", nil)
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("new permissions not applied to the open connection")
	}
}

func TestReloadTLSCertificate(t *testing.T) {
	cert1, pool1 := selfSigned(t, "one")
	cert2, pool2 := selfSigned(t, "two")
	o := testOptions()
	o.TLS = &broker.TLSOptions{Config: &tls.Config{Certificates: []tls.Certificate{cert1}}}
	srv := startServer(t, o, nil)
	old, err := tryConnect(srv, nats.Secure(&tls.Config{RootCAs: pool1}))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	o.TLS = &broker.TLSOptions{Config: &tls.Config{Certificates: []tls.Certificate{cert2}}}
	if err := srv.Reload(o); err != nil {
		t.Fatal(err)
	}
	nc, err := tryConnect(srv, nats.Secure(&tls.Config{RootCAs: pool2}))
	if err != nil {
		t.Fatalf("new certificate: %v", err)
	}
	nc.Close()
	if nc, err := tryConnect(srv, nats.Secure(&tls.Config{RootCAs: pool1})); err == nil {
		nc.Close()
		t.Fatal("old certificate still served to new connections")
	}
	if err := old.Flush(); err != nil {
		t.Fatalf("existing TLS connection dropped: %v", err)
	}
}

func TestLameDuck(t *testing.T) {
	o := testOptions()
	// The grace gives the clients time to take the lame-duck INFO before
	// the closes begin (on a loaded machine 50 ms was once not enough).
	o.LameDuck = broker.LameDuckOptions{GracePeriod: time.Second, Duration: 200 * time.Millisecond}
	srv, err := broker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var ldm, closed atomic.Int32
	for i := 0; i < 4; i++ {
		nc, err := tryConnect(srv, nats.LameDuckModeHandler(func(*nats.Conn) { ldm.Add(1) }),
			nats.ClosedHandler(func(*nats.Conn) { closed.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	url := srv.ClientURL()
	done := make(chan error)
	go func() { done <- srv.LameDuck(context.Background()) }()
	eventually(t, 5*time.Second, "clients told of lame-duck mode", func() bool { return ldm.Load() == 4 })
	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a new client was accepted in lame-duck mode")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "all clients closed", func() bool { return closed.Load() == 4 })
	if srv.NumClients() != 0 {
		t.Fatal("clients left after lame duck")
	}
}
