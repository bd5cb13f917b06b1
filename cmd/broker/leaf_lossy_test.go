//go:build linux

package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/netem"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
)

// lossyLink is the link of TestLeafLossyLink: 25 ms each way (a 50 ms
// round trip) and 1 % of the packets dropped in each direction.
var lossyLink = netem.Config{Delay: 25 * time.Millisecond, Loss: 0.01, Seed: 16}

// TestLeafLossyLink: a hub broker in one network namespace and its leaf
// in another, joined by a userspace netem link (internal/netem) with 1 %
// loss and a 50 ms round trip, once with a nats-leaf:// (TCP) remote and
// once with a quic:// remote. Messages cross both ways exactly once and in
// order; after the hub is killed with SIGKILL and restarted, the leaf
// reconnects by itself and messages cross again, exactly once.
func TestLeafLossyLink(t *testing.T) {
	if err := netem.Check(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skipf("no lossy link here: %v", err)
	}
	for _, scheme := range []string{"nats-leaf", "quic"} {
		t.Run(scheme, func(t *testing.T) { lossyLeaf(t, scheme) })
	}
}

func lossyLeaf(t *testing.T, scheme string) {
	link, err := netem.New(lossyLink)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the brokers' cleanups killed them.
	t.Cleanup(func() {
		if err := link.Close(); err != nil {
			t.Error(err)
		}
		t.Logf("link A→B %+v, B→A %+v", link.Stats(netem.A), link.Stats(netem.B))
	})
	dir := t.TempDir()
	hubListen := fmt.Sprintf(`listen: "%s:7422"`, netem.IPA)
	remote := fmt.Sprintf(`url: "nats-leaf://%s:7422"`, netem.IPA)
	if scheme == "quic" {
		cert, key := selfSigned(t, dir)
		hubListen = fmt.Sprintf(`quic { listen: "%s:7423", cert_file: %q, key_file: %q }`, netem.IPA, cert, key)
		remote = fmt.Sprintf(`url: "quic://%s:7423", quic { fingerprint: %q }`, netem.IPA, pemFingerprint(t, cert))
	}
	// Each namespace is the broker's own, so fixed ports cannot collide.
	hubConf := writeConfAs(t, dir, "hub.conf", fmt.Sprintf("listen: \"127.0.0.1:4222\"\nhttp_port: 0\nleafnodes { %s }\n", hubListen))
	leafConf := writeConfAs(t, dir, "leaf.conf", fmt.Sprintf("listen: \"127.0.0.1:4222\"\nhttp_port: 0\nleafnodes { remotes: [ { %s } ], reconnect: \"250ms\" }\n", remote))

	hub := startBrokerIn(t, link, netem.A, "-c", hubConf)
	leaf := startBrokerIn(t, link, netem.B, "-c", leafConf)
	leaf.waitLog(t, "leaf node connection up")

	hc := connectIn(t, link, netem.A)
	lc := connectIn(t, link, netem.B)
	crossBothWays(t, hc, lc, "first")

	// SIGKILL: no close reaches the leaf. Over TCP the hub's kernel resets
	// the connection; over QUIC the leaf notices only by its idle timeout.
	hc.Close()
	hub.cmd.Process.Kill()
	<-hub.done
	hub.done <- nil
	t0 := time.Now()
	startBrokerIn(t, link, netem.A, "-c", hubConf)
	waitFor(t, "the leaf's second connection", func() bool {
		return strings.Count(leaf.log.String(), "leaf node connection up") >= 2
	})
	t.Logf("%s: the leaf reconnected %v after the hub was back", scheme, time.Since(t0).Round(time.Millisecond))
	hc = connectIn(t, link, netem.A)
	crossBothWays(t, hc, lc, "second")
}

// crossBothWays publishes n numbered messages from each side to a
// subscriber on the other and checks that each arrives exactly once, in
// order, once a probe has shown the interest crossed.
func crossBothWays(t *testing.T, hc, lc *nats.Conn, round string) {
	t.Helper()
	const n = 500
	toLeaf := subscribeSync(t, lc, "lossy."+round+".to.leaf")
	toHub := subscribeSync(t, hc, "lossy."+round+".to.hub")
	for _, w := range []struct {
		pub *nats.Conn
		sub *nats.Subscription
	}{{hc, toLeaf}, {lc, toHub}} {
		// Interest has crossed once a probe arrives; drain the extra probes.
		waitFor(t, "interest on "+w.sub.Subject+" across the link", func() bool {
			w.pub.Publish(w.sub.Subject, nil)
			w.pub.Flush()
			_, err := w.sub.NextMsg(200 * time.Millisecond)
			return err == nil
		})
		payload := make([]byte, 256)
		for i := range n {
			copy(payload, strconv.Itoa(i)+" ")
			if err := w.pub.Publish(w.sub.Subject, payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.pub.Flush(); err != nil {
			t.Fatal(err)
		}
		next := 0
		for next < n {
			m, err := w.sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: %d of %d arrived: %v", w.sub.Subject, next, n, err)
			}
			if len(m.Data) == 0 {
				continue // a late probe
			}
			seq, _ := strconv.Atoi(strings.Fields(string(m.Data))[0])
			if seq != next {
				t.Fatalf("%s: message %d arrived where %d was due", w.sub.Subject, seq, next)
			}
			next++
		}
		// Nothing more: no duplicates.
		if m, err := w.sub.NextMsg(300 * time.Millisecond); err == nil && len(m.Data) > 0 {
			t.Fatalf("%s: an extra message %q after all %d", w.sub.Subject, m.Data[:8], n)
		}
	}
}

func subscribeSync(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// startBrokerIn runs the broker binary inside side s's namespace.
func startBrokerIn(t *testing.T, link *netem.Link, s netem.Side, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: link.Command(s, brokerBinary(t), args...), log: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("broker in %s log:\n%s", link.Namespace(s), p.log.String())
		}
	})
	p.waitLog(t, "murmur broker ready")
	return p
}

// connectIn connects a client to the broker on 127.0.0.1:4222 of side s's
// namespace.
func connectIn(t *testing.T, link *netem.Link, s netem.Side) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.SetCustomDialer(link.Dialer(s, 5*time.Second)), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func writeConfAs(t *testing.T, dir, name, text string) string {
	t.Helper()
	sub := dir + "/" + strings.TrimSuffix(name, ".conf")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeConf(t, sub, text)
}

// pemFingerprint is the hex SHA-256 of the certificate in a PEM file, as a
// remote's quic { fingerprint } pins it.
func pemFingerprint(t *testing.T, certFile string) string {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM in %s", certFile)
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		t.Fatal(err)
	}
	return quic.CertFingerprint(b.Bytes)
}
