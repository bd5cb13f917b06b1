package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/internal/testutil"
)

// node is a broker and its cluster started from a config file in-process,
// as run does, so reload can be called on it directly.
type node struct {
	cfg  *config
	srv  *broker.Server
	cl   *cluster.Cluster
	log  *zap.Logger
	logs *observer.ObservedLogs
}

func startNode(t *testing.T, conf string) *node {
	t.Helper()
	cfg, err := parseFlags([]string{"-c", conf}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	n := &node{cfg: cfg, log: zap.New(core), logs: logs}
	cfg.opts.Logger = n.log
	if n.srv, err = broker.New(cfg.opts); err != nil {
		t.Fatal(err)
	}
	if err := n.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.srv.Close() })
	cfg.gossip.Logger = n.log
	if n.cl, err = cluster.Start(n.srv, *cfg.gossip); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.cl.Close() })
	return n
}

// reload rewrites the node's file and reloads it; the reload must apply.
func (n *node) reload(t *testing.T, text string) {
	t.Helper()
	writeConf(t, filepath.Dir(n.cfg.cli.configFile), text)
	n.cfg = reload(n.cfg, n.srv, n.cl, n.log)
	for _, e := range n.logs.FilterLevelExact(zapcore.ErrorLevel).TakeAll() {
		t.Fatalf("reload logged an error: %s %v", e.Message, e.ContextMap())
	}
}

func (n *node) members() int { return len(n.cl.Members()) }

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZg==" // 0123456789abcdef
	key2 = "ZmVkY2JhOTg3NjU0MzIxMA==" // fedcba9876543210
)

func nodeConf(seeds, key, extra string) string {
	return fmt.Sprintf("listen: 127.0.0.1:-1\nhttp_port: 0\ncluster { listen: 127.0.0.1:0 }\n"+
		"gossip {\n  listen: 127.0.0.1:0\n  profile: local\n  seeds: [%s]\n  key: %q\n  extra_keys: [%s]\n}\n", seeds, key, extra)
}

// The gossip half of a reload: seeds and keys reach the cluster, and a
// key rotation in three reloads (add the new key, make it primary, drop
// the old) keeps the cluster whole; a broker holding only the new key
// joins afterwards. (New seeds are joined on gossip's next re-join round,
// up to 30 s away, so the test checks them through the cluster's log.)
func TestReloadGossipHalf(t *testing.T) {
	a := startNode(t, writeConf(t, t.TempDir(), nodeConf("", key1, "")))
	seedA := fmt.Sprintf("\"127.0.0.1:%d\"", a.cl.Gossip().Port())
	b := startNode(t, writeConf(t, t.TempDir(), nodeConf(seedA, key1, "")))
	waitFor(t, "b to join a", func() bool { return a.members() == 2 && b.members() == 2 })
	waitFor(t, "a route between a and b", func() bool { return a.srv.NumRoutes() == 1 && b.srv.NumRoutes() == 1 })

	b.reload(t, nodeConf(seedA+", \"127.0.0.1:1\"", key1, ""))
	if got := b.cfg.gossip.Seeds; len(got) != 2 {
		t.Fatalf("seeds in force after reload: %v", got)
	}
	if e := b.logs.FilterMessage("gossip configuration reloaded").TakeAll(); len(e) != 1 || e[0].ContextMap()["seeds"] != int64(2) {
		t.Fatalf("cluster did not take the new seeds: %v", e)
	}

	for _, step := range []struct{ key, extra string }{
		{key1, fmt.Sprintf("%q", key2)}, // accept the new key
		{key2, fmt.Sprintf("%q", key1)}, // send with it
		{key2, ""},                      // drop the old one
	} {
		a.reload(t, nodeConf("", step.key, step.extra))
		b.reload(t, nodeConf(seedA, step.key, step.extra))
	}
	c := startNode(t, writeConf(t, t.TempDir(), nodeConf(seedA, key2, "")))
	waitFor(t, "c, holding only the new key, to join", func() bool {
		return a.members() == 3 && b.members() == 3 && c.members() == 3
	})
	waitFor(t, "routes to c", func() bool { return a.srv.NumRoutes() == 2 && c.srv.NumRoutes() == 2 })

	// A gossip change that needs a restart is refused and logged; the
	// broker half still applies.
	writeConf(t, filepath.Dir(a.cfg.cli.configFile), strings.Replace(nodeConf("", key2, ""), "profile: local", "profile: wan", 1))
	a.cfg = reload(a.cfg, a.srv, a.cl, a.log)
	if e := a.logs.FilterMessage("reload: gossip refused the new settings; they stay as they were").TakeAll(); len(e) != 1 {
		t.Fatalf("profile change not refused: %v", e)
	}
	if a.cfg.gossip.Profile != "local" {
		t.Fatalf("gossip config in force: profile %q", a.cfg.gossip.Profile)
	}
}

// The network half of a reload moves the client listeners: a new port
// (and QUIC turned on) accepts at once, clients on the old port stay
// connected, and the other brokers learn the new client URL through
// gossip (the connect_urls they hand out).
func TestReloadMovesClientPort(t *testing.T) {
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	conf := func(port int, seeds, extra string) string {
		return fmt.Sprintf("listen: 127.0.0.1:%d\nhttp_port: 0\ncluster { listen: 127.0.0.1:0 }\n"+
			"gossip {\n  listen: 127.0.0.1:0\n  profile: local\n  seeds: [%s]\n}\n%s", port, seeds, extra)
	}
	a := startNode(t, writeConf(t, t.TempDir(), conf(p1, "", "")))
	seedA := fmt.Sprintf("\"127.0.0.1:%d\"", a.cl.Gossip().Port())
	b := startNode(t, writeConf(t, t.TempDir(), conf(-1, seedA, "")))
	waitFor(t, "b to join a", func() bool { return a.members() == 2 && b.members() == 2 })

	old, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", p1), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	sub, err := old.SubscribeSync("moved")
	if err != nil {
		t.Fatal(err)
	}
	old.Flush()

	a.reload(t, conf(p2, "", "quic { port: -1 }\n"))
	addrs := a.srv.Addrs()
	if addrs["tcp"].String() != fmt.Sprintf("127.0.0.1:%d", p2) || addrs["quic"] == nil {
		t.Fatalf("a listens on %v after reload", addrs)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p1), time.Second); err == nil {
		c.Close()
		t.Fatal("the old port still accepts")
	}
	pub, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", p2), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("new port: %v", err)
	}
	defer pub.Close()
	pub.Publish("moved", []byte("x"))
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("client on the old port after the move: %v", err)
	}
	if e := a.logs.FilterMessage("quic: using a self-signed certificate; pin it in clients").TakeAll(); len(e) != 1 {
		t.Fatalf("QUIC turned on by reload did not log its fingerprint: %v", e)
	}
	// A new QUIC certificate in the file is served from the next reload on,
	// on the same port.
	selfFP, quicAddr := a.cfg.quic.Fingerprint(), a.srv.Addrs()["quic"].String()
	certFile, keyFile := selfSigned(t, t.TempDir())
	a.reload(t, conf(p2, "", fmt.Sprintf("quic { port: -1, cert_file: %q, key_file: %q }\n", certFile, keyFile)))
	if fp := a.cfg.quic.Fingerprint(); fp == selfFP || a.cfg.quic.SelfSigned() || a.srv.Addrs()["quic"].String() != quicAddr {
		t.Fatalf("after a certificate reload: fingerprint %s (was %s), QUIC on %v (was %s)", fp, selfFP, a.srv.Addrs()["quic"], quicAddr)
	}
	want := fmt.Sprintf("nats://127.0.0.1:%d", p2)
	waitFor(t, "b to see a's new client URL", func() bool {
		for _, m := range b.cl.Members() {
			if m.Meta.ID == a.srv.ID() {
				return slices.Contains(m.Meta.ClientURLs, want)
			}
		}
		return false
	})
}
