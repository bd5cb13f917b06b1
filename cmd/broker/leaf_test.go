package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestConfigLeafNodes: the leafnodes block lands in the options.
func TestConfigLeafNodes(t *testing.T) {
	path := writeConf(t, t.TempDir(), `
accounts { A { users: [ {user: a, password: a} ] } }
leafnodes {
  listen: "127.0.0.1:7422"
  advertise: "leaf.example.com:7422"
  authorization { user: leaf, password: s3cret, account: A, timeout: 3s }
  reconnect: "2s"
  remotes: [
    { url: "nats://u:p@hub1:7422", account: A, deny_imports: "secret.>", deny_exports: ["a", "b"] }
    { urls: ["nats://hub2", "nats://hub3:7000"], credentials: "/etc/leaf.creds" }
  ]
}`)
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln := cfg.opts.LeafNode
	got := fmt.Sprint(ln.Addr, ln.Advertise, ln.User, ln.Password, ln.Account, ln.AuthTimeout, "/", ln.Reconnect, "/", len(ln.Remotes))
	if want := "127.0.0.1:7422leaf.example.com:7422leafs3cretA3s/2s/2"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	r0, r1 := ln.Remotes[0], ln.Remotes[1]
	got = fmt.Sprintf("%v|%s|%v|%v|%v|%s|%s", r0.URLs, r0.Account, r0.DenyImports, r0.DenyExports, r1.URLs, r1.Account, r1.Credentials)
	if want := "[nats://u:p@hub1:7422]|A|[secret.>]|[a b]|[nats://hub2 nats://hub3:7000]||/etc/leaf.creds"; got != want {
		t.Fatalf("remotes: got %s, want %s", got, want)
	}
}

// TestLeafNodeBinaries: two broker processes, a hub with a leaf user
// bound to an account and a leaf whose remote binds its $G to it; a leaf
// with a wrong password is refused.
func TestLeafNodeBinaries(t *testing.T) {
	leafPort := testutil.FreePort(t)
	dir := t.TempDir()
	hub := startBroker(t, "-c", writeConf(t, dir, fmt.Sprintf(`
port: -1
http_port: 0
accounts { A { users: [ {user: a, password: a} ] } }
leafnodes { listen: "127.0.0.1:%d", authorization { user: leaf, password: good, account: A } }`, leafPort)))
	leaf := startBroker(t, "-c", writeConf(t, t.TempDir(), fmt.Sprintf(`
port: -1
http_port: 0
leafnodes { remotes: [ { url: "nats://leaf:good@127.0.0.1:%d" } ], reconnect: "100ms" }`, leafPort)))
	bad := startBroker(t, "-c", writeConf(t, t.TempDir(), fmt.Sprintf(`
port: -1
http_port: 0
leafnodes { remotes: [ { url: "nats://leaf:wrong@127.0.0.1:%d" } ], reconnect: "100ms" }`, leafPort)))
	leaf.waitLog(t, "leaf node connection up")
	bad.waitLog(t, "Authorization Violation")

	hc, err := nats.Connect(hub.url, nats.UserInfo("a", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	lc, err := nats.Connect(leaf.url)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	sub, _ := hc.SubscribeSync("edge.>")
	hc.Flush()
	testutil.Eventually(t, 5*time.Second, "the hub's interest reaches the leaf", func() bool {
		lc.Publish("edge.1", []byte("hello"))
		lc.Flush()
		m, err := sub.NextMsg(50 * time.Millisecond)
		return err == nil && string(m.Data) == "hello"
	})
	// The bad leaf's clients reach nothing on the hub.
	bc, err := nats.Connect(bad.url)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	bc.Publish("edge.2", []byte("no"))
	bc.Flush()
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		if string(m.Data) == "no" {
			t.Fatal("a leaf with a wrong password reached the hub")
		}
	}
}

// TestConfigLeafTLS: leafnodes.tls is the hub's server TLS, a remote's
// tls its client side (ca_file as the roots).
func TestConfigLeafTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	path := writeConf(t, dir, fmt.Sprintf(`
leafnodes {
  port: 7422
  tls { cert_file: %q, key_file: %q, verify: true }
  remotes: [ { url: "tls://hub:7422", tls { ca_file: %q, cert_file: %q, key_file: %q } } ]
}`, cert, key, cert, cert, key))
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln := cfg.opts.LeafNode
	if ln.TLS == nil || len(ln.TLS.Config.Certificates) != 1 || ln.TLS.Config.ClientAuth.String() != "RequireAndVerifyClientCert" {
		t.Fatalf("hub tls: %+v", ln.TLS)
	}
	if r := ln.Remotes[0].TLS; r == nil || r.RootCAs == nil || len(r.Certificates) != 1 {
		t.Fatalf("remote tls: %+v", r)
	}
	bad := writeConf(t, t.TempDir(), `leafnodes { remotes: [ { url: "tls://hub", tls { cert_file: "/x" } } ] }`)
	if _, err := parseFlags([]string{"-c", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "cert_file and key_file go together") {
		t.Fatalf("cert without key: %v", err)
	}
}

// TestLeafNodeQUICBinaries: a hub with a QUIC leaf listener (self-signed,
// its fingerprint logged) and a leaf pinning it over quic://.
func TestLeafNodeQUICBinaries(t *testing.T) {
	port := testutil.FreePort(t)
	hub := startBroker(t, "-c", writeConf(t, t.TempDir(), fmt.Sprintf(`
port: -1
http_port: 0
leafnodes { quic { listen: "127.0.0.1:%d" } }`, port)))
	m := regexp.MustCompile(`listening for leaf nodes transport=quic .*fingerprint=([0-9a-f]+)`).FindStringSubmatch(hub.log.String())
	if m == nil {
		t.Fatalf("no fingerprint logged:\n%s", hub.log)
	}
	leaf := startBroker(t, "-c", writeConf(t, t.TempDir(), fmt.Sprintf(`
port: -1
http_port: 0
leafnodes { remotes: [ { url: "quic://127.0.0.1:%d", quic { fingerprint: %q } } ], reconnect: "100ms" }`, port, m[1])))
	leaf.waitLog(t, "leaf node connection up")
	hc, err := nats.Connect(hub.url)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	lc, err := nats.Connect(leaf.url)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	sub, _ := lc.SubscribeSync("over.quic")
	lc.Flush()
	testutil.Eventually(t, 5*time.Second, "a message over the QUIC leaf connection", func() bool {
		hc.Publish("over.quic", []byte("q"))
		hc.Flush()
		m, err := sub.NextMsg(50 * time.Millisecond)
		return err == nil && string(m.Data) == "q"
	})
}
