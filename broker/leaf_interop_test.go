package broker_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// natsProc is a nats-server 2.15 process for the leaf node interop tests.
type natsProc struct {
	t                           *testing.T
	cmd                         *exec.Cmd
	conf                        string
	out                         *testutil.SyncBuffer
	port, leafPort, monitorPort int
}

// startNats runs nats-server with a config of client, monitor and leaf
// node listeners on free ports plus extra (a leafnodes block's remotes).
// leafListen adds a leaf node listener.
func startNats(t *testing.T, leafListen bool, leafBlock string) *natsProc {
	t.Helper()
	p := &natsProc{t: t, port: testutil.FreePort(t), monitorPort: testutil.FreePort(t)}
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", p.port, p.monitorPort)
	if leafListen {
		p.leafPort = testutil.FreePort(t)
		leafBlock = fmt.Sprintf("listen: 127.0.0.1:%d\n", p.leafPort) + leafBlock
	}
	if leafBlock != "" {
		conf += "leafnodes {\n" + leafBlock + "\n}\n"
	}
	p.conf = filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(p.kill)
	return p
}

// startNatsConf runs nats-server with client and monitor listeners on
// free ports plus extra config text.
func startNatsConf(t *testing.T, extra string) *natsProc {
	t.Helper()
	p := &natsProc{t: t, port: testutil.FreePort(t), monitorPort: testutil.FreePort(t)}
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n%s\n", p.port, p.monitorPort, extra)
	p.conf = filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *natsProc) start() {
	p.t.Helper()
	p.out = &testutil.SyncBuffer{}
	p.cmd = exec.Command(testutil.NatsServer(p.t), "-c", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("nats-server: %v", err)
	}
	testutil.Eventually(p.t, 10*time.Second, "nats-server listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// kill stops the process at once (kill -9), as a crash would.
func (p *natsProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *natsProc) url() string     { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }
func (p *natsProc) leafURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.leafPort) }

func (p *natsProc) connect(opts ...nats.Option) *nats.Conn {
	p.t.Helper()
	nc, err := nats.Connect(p.url(), append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		p.t.Fatalf("connect to nats-server: %v", err)
	}
	p.t.Cleanup(nc.Close)
	return nc
}

// leafz is nats-server's /leafz?subs=1: the interest its leaf
// connections hold.
func (p *natsProc) leafz() (n int, subs []string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/leafz?subs=1", p.monitorPort))
	if err != nil {
		return -1, nil
	}
	defer resp.Body.Close()
	var doc struct {
		Leafs []struct {
			Subs []string `json:"subscriptions_list"`
		} `json:"leafs"`
	}
	if json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return -1, nil
	}
	for _, l := range doc.Leafs {
		subs = append(subs, l.Subs...)
	}
	return len(doc.Leafs), subs
}

func (p *natsProc) waitInterest(what string, has, hasNot []string) {
	p.t.Helper()
	waitSubjects(p.t, what, has, hasNot, func() []string { _, s := p.leafz(); return s })
}

// ourInterest is what waitInterest is for one of our brokers.
func ourInterest(t *testing.T, s *broker.Server) func(string, []string, []string) {
	return func(what string, has, hasNot []string) {
		t.Helper()
		waitSubjects(t, what, has, hasNot, func() []string {
			var subs []string
			for _, l := range s.Leafs(true) {
				subs = append(subs, l.Subs...)
			}
			return subs
		})
	}
}

// waitSubjects waits until list() holds every entry of has and none of
// hasNot (subjects; a queue group's is listed as its subject).
func waitSubjects(t *testing.T, what string, has, hasNot []string, list func() []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := list()
		in := func(s string) bool { return slices.Contains(got, s) }
		if !slices.ContainsFunc(has, func(s string) bool { return !in(s) }) && !slices.ContainsFunc(hasNot, in) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: have %q, want %q and not %q", what, got, has, hasNot)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exercise runs pub/sub both ways with a wildcard, headers, request/reply
// both ways, no responders and queue locality across one leaf connection,
// hc on the hub and lc on the leaf; waitHub waits until the hub holds
// the leaf's interest named, waitLeaf the same on the leaf.
func exercise(t *testing.T, hc, lc *nats.Conn, waitHub, waitLeaf func(string, []string, []string)) {
	t.Helper()
	ls, _ := lc.SubscribeSync("down.*")
	lc.Subscribe("svc.leaf", func(m *nats.Msg) { m.Respond(append([]byte("leaf:"), m.Data...)) })
	lq, _ := lc.QueueSubscribeSync("work", "q")
	lc.Flush()
	hs, _ := hc.SubscribeSync("up.>")
	hc.Subscribe("svc.hub", func(m *nats.Msg) { m.Respond(append([]byte("hub:"), m.Data...)) })
	hq, _ := hc.QueueSubscribeSync("work", "q")
	hc.Flush()
	waitHub("the hub has the leaf's interest", []string{"down.*", "svc.leaf", "work"}, nil)
	waitLeaf("the leaf has the hub's interest", []string{"up.>", "svc.hub", "work"}, nil)

	hc.Publish("down.x", []byte("d"))
	if m := leafRecv(t, ls); string(m.Data) != "d" {
		t.Fatalf("hub -> leaf: %q", m.Data)
	}
	msg := nats.NewMsg("up.a.b")
	msg.Header.Set("Trace", "42")
	msg.Data = []byte("u")
	lc.PublishMsg(msg)
	if m := leafRecv(t, hs); string(m.Data) != "u" || m.Header.Get("Trace") != "42" {
		t.Fatalf("leaf -> hub: %q %v", m.Data, m.Header)
	}
	if r, err := lc.Request("svc.hub", []byte("1"), 5*time.Second); err != nil || string(r.Data) != "hub:1" {
		t.Fatalf("request leaf -> hub: %v %v", r, err)
	}
	if r, err := hc.Request("svc.leaf", []byte("2"), 5*time.Second); err != nil || string(r.Data) != "leaf:2" {
		t.Fatalf("request hub -> leaf: %v %v", r, err)
	}
	if _, err := lc.Request("svc.nobody", nil, 5*time.Second); err != nats.ErrNoResponders {
		t.Fatalf("no responders from the leaf: %v", err)
	}
	for i := range 10 {
		hc.Publish("work", []byte(fmt.Sprint("h", i)))
		lc.Publish("work", []byte(fmt.Sprint("l", i)))
	}
	hc.Flush()
	lc.Flush()
	for i := range 10 {
		if m := leafRecv(t, hq); string(m.Data) != fmt.Sprint("h", i) {
			t.Fatalf("hub member got %q (local preference)", m.Data)
		}
		if m := leafRecv(t, lq); string(m.Data) != fmt.Sprint("l", i) {
			t.Fatalf("leaf member got %q (local preference)", m.Data)
		}
	}
	leafNoMsg(t, hq)
	hq.Unsubscribe()
	hc.Flush()
	waitLeaf("the leaf drops the hub's member", nil, []string{"work"})
	hc.Publish("work", []byte("spill"))
	if m := leafRecv(t, lq); string(m.Data) != "spill" {
		t.Fatalf("no local member: %q", m.Data)
	}
	ls.Unsubscribe()
	lc.Flush()
	waitHub("the hub drops down.*", nil, []string{"down.*"})
	hc.Publish("down.x", []byte("gone"))
	hc.Flush()
	leafNoMsg(t, ls)
}

// Our leaf, a nats-server hub.
func TestLeafInteropNatsServerHub(t *testing.T) {
	hub := startNats(t, true, "")
	leaf := startLeafOf(t, hub.leafURL(), nil)
	waitLeafs(t, leaf, 1)
	exercise(t, hub.connect(), connectTCP(t, leaf), hub.waitInterest, ourInterest(t, leaf))
}

// A nats-server leaf, our hub.
func TestLeafInteropNatsServerLeaf(t *testing.T) {
	hub := startHub(t, nil)
	leaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q } ]\nreconnect: \"100ms\"", leafURL(hub)))
	waitLeafs(t, hub, 1)
	exercise(t, connectTCP(t, hub), leaf.connect(), ourInterest(t, hub), leaf.waitInterest)
}

// The nats-server hub is killed and restarted; our leaf reconnects and
// sends its interest again.
func TestLeafInteropHubRestart(t *testing.T) {
	hub := startNats(t, true, "")
	leaf := startLeafOf(t, hub.leafURL(), nil)
	waitLeafs(t, leaf, 1)
	lc := connectTCP(t, leaf)
	ls, _ := lc.SubscribeSync("again")
	lc.Flush()
	hub.waitInterest("the hub has the interest", []string{"again"}, nil)
	hub.kill()
	waitLeafs(t, leaf, 0)
	hub.start()
	waitLeafs(t, leaf, 1)
	hub.waitInterest("the restarted hub has the interest again", []string{"again"}, nil)
	hc := hub.connect()
	hc.Publish("again", []byte("ok"))
	if m := leafRecv(t, ls); string(m.Data) != "ok" {
		t.Fatalf("got %q", m.Data)
	}
}

// deny_imports and deny_exports on our leaf, against a nats-server hub.
func TestLeafInteropDenyRules(t *testing.T) {
	hub := startNats(t, true, "")
	leaf := startLeafOf(t, hub.leafURL(), func(r *broker.RemoteLeaf) {
		r.DenyImports = []string{"secret.in.>"}
		r.DenyExports = []string{"secret.out"}
	})
	waitLeafs(t, leaf, 1)
	hc, lc := hub.connect(), connectTCP(t, leaf)
	lin, _ := lc.SubscribeSync("secret.in.x")
	lall, _ := lc.SubscribeSync("secret.>")
	lc.Flush()
	hout, _ := hc.SubscribeSync("secret.out")
	hok, _ := hc.SubscribeSync("fine")
	hc.Flush()
	hub.waitInterest("the hub has secret.>, not secret.in.x", []string{"secret.>"}, []string{"secret.in.x"})
	// The hub's interest in secret.out is not taken (nats-server's leaf
	// ignores a literal one it may not send to).
	ourInterest(t, leaf)("the leaf has the hub's interest", []string{"fine"}, []string{"secret.out"})
	hc.Publish("secret.in.x", []byte("denied"))
	hc.Publish("secret.other", []byte("allowed"))
	hc.Flush()
	if m := leafRecv(t, lall); string(m.Data) != "allowed" {
		t.Fatalf("got %q", m.Data)
	}
	leafNoMsg(t, lin)
	lc.Publish("secret.out", []byte("kept"))
	lc.Publish("fine", []byte("sent"))
	lc.Flush()
	if m := leafRecv(t, hok); string(m.Data) != "sent" {
		t.Fatalf("got %q", m.Data)
	}
	leafNoMsg(t, hout)
}

// Our hub with a nats-server leaf and one of ours: every message once to
// every subscriber.
func TestLeafInteropMixedLeaves(t *testing.T) {
	hub := startHub(t, nil)
	theirs := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q } ]", leafURL(hub)))
	ours := startLeafOf(t, leafURL(hub), nil)
	waitLeafs(t, hub, 2)
	conns := []*nats.Conn{connectTCP(t, hub), theirs.connect(), connectTCP(t, ours)}
	var subs []*nats.Subscription
	for _, nc := range conns {
		s, _ := nc.SubscribeSync("all.*")
		nc.Flush()
		subs = append(subs, s)
	}
	testutil.Eventually(t, 10*time.Second, "the hub has both leaves' interest", func() bool {
		n := 0
		for _, l := range hub.Leafs(true) {
			if slices.Contains(l.Subs, "all.*") {
				n++
			}
		}
		return n == 2
	})
	// Each leaf sees the hub's all.* (the other leaf's is the same key).
	theirs.waitInterest("their leaf has all.*", []string{"all.*"}, nil)
	ourInterest(t, ours)("our leaf has all.*", []string{"all.*"}, nil)
	for i, nc := range conns {
		nc.Publish(fmt.Sprint("all.", i), []byte{byte('0' + i)})
		nc.Flush()
	}
	for _, s := range subs {
		seen := map[string]bool{}
		for range 3 {
			seen[string(leafRecv(t, s).Data)] = true
		}
		if len(seen) != 3 {
			t.Fatalf("got %v", seen)
		}
		leafNoMsg(t, s)
	}
}
