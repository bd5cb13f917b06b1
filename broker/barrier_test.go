package broker_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// barrierRounds is how many subscribe-then-publish (and respond-then-
// request) rounds each test makes across the cluster; the goal is
// 0 lost of 1,000.
const barrierRounds = 1000

// TestFlushMeansInterestEverywhere: a subscriber on one broker subscribes
// and flushes, and a publisher on another publishes at once, on a fresh
// subject each round. Without the interest barrier a good share of these
// are lost (the RS+ has not crossed yet); with it none are. The same for a
// queue subscriber and in a named account.
func TestFlushMeansInterestEverywhere(t *testing.T) {
	srvs := startMesh(t, 3, false)
	sub := connectTCP(t, srvs[1])
	pubs := []*nats.Conn{connectTCP(t, srvs[0]), connectTCP(t, srvs[2])}
	lost := 0
	for i := range barrierRounds {
		subject := fmt.Sprintf("barrier.%d", i)
		var s *nats.Subscription
		var err error
		if i%4 == 3 {
			s, err = sub.QueueSubscribeSync(subject, "q")
		} else {
			s, err = sub.SubscribeSync(subject)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Flush(); err != nil {
			t.Fatal(err)
		}
		pub := pubs[i%2]
		if err := pub.Publish(subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.NextMsg(2 * time.Second); err != nil {
			lost++
		}
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d messages published right after a remote subscriber's Flush were lost", lost, barrierRounds)
	}
	for _, s := range srvs {
		if n := s.Stats().InterestBarrierTimeouts; n != 0 {
			t.Errorf("%d interest barrier timeouts", n)
		}
	}
}

// TestFlushMeansResponderEverywhere: a responder on one broker of three
// subscribes and flushes; a request from another broker at once finds it
// (no "no responders", no timeout).
func TestFlushMeansResponderEverywhere(t *testing.T) {
	srvs := startMesh(t, 3, false)
	resp := connectTCP(t, srvs[1])
	reqs := []*nats.Conn{connectTCP(t, srvs[0]), connectTCP(t, srvs[2])}
	failed := 0
	var last error
	for i := range barrierRounds {
		subject := fmt.Sprintf("svc.%d", i)
		s, err := resp.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond([]byte("ok")) })
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := reqs[i%2].Request(subject, nil, 2*time.Second); err != nil {
			failed++
			last = err
		}
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests right after a remote responder's Flush failed (last: %v)", failed, barrierRounds, last)
	}
}

// TestFlushAfterUnsubscribe: once an unsubscribing queue member's Flush
// returns, the other broker no longer picks it: every message goes to the
// remaining member on the publisher's broker, none is dropped at the
// broker that lost its member.
func TestFlushAfterUnsubscribe(t *testing.T) {
	srvs := startMesh(t, 2, false)
	remote := connectTCP(t, srvs[1])
	local := connectTCP(t, srvs[0])
	pub := connectTCP(t, srvs[0])
	lost := 0
	for i := range barrierRounds / 4 {
		subject := fmt.Sprintf("unsub.%d", i)
		keep, err := local.QueueSubscribeSync(subject, "q")
		if err != nil {
			t.Fatal(err)
		}
		gone, err := remote.QueueSubscribeSync(subject, "q")
		if err != nil {
			t.Fatal(err)
		}
		if err := local.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := remote.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := gone.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		if err := remote.Flush(); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if err := pub.Publish(subject, nil); err != nil {
				t.Fatal(err)
			}
		}
		for range 4 {
			if _, err := keep.NextMsg(2 * time.Second); err != nil {
				lost++
			}
		}
		if err := keep.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if lost > 0 {
		t.Fatalf("%d messages were picked for a queue member whose Unsubscribe and Flush had returned", lost)
	}
}

// TestFlushBarrierBoundedByDeadRoute: a route whose peer stops answering
// holds a client's PONG no longer than the barrier's timeout, and the
// timeout is counted.
func TestFlushBarrierBoundedByDeadRoute(t *testing.T) {
	a, peer := startFrozenRoute(t)
	nc := connectTCP(t, a)
	if _, err := nc.SubscribeSync("frozen"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := nc.FlushTimeout(10 * time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Flush with a frozen route: %v (after %v)", err, took)
	}
	if took > 5*time.Second {
		t.Fatalf("Flush took %v with a frozen route", took)
	}
	eventually(t, time.Second, "the timeout counted", func() bool { return a.Stats().InterestBarrierTimeouts == 1 })
	// A PING with no subscription change since answers at once.
	start = time.Now()
	if err := nc.Flush(); err != nil || time.Since(start) > time.Second {
		t.Fatalf("a Flush with nothing new: %v after %v", err, time.Since(start))
	}
	peer.Close()
}

// startFrozenRoute starts a clustered broker and a route peer that passes
// the handshake (by hand, over a raw socket) and then never reads or
// answers again: a frozen broker.
func startFrozenRoute(t *testing.T) (*broker.Server, net.Conn) {
	t.Helper()
	o := testOptions()
	clusterOptions(&o, 0)
	a := startServer(t, o, nil)
	c, err := net.Dial("tcp", a.RouteAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("route INFO: %q %v", line, err)
	}
	if _, err := fmt.Fprintf(c, "CONNECT {\"server_id\":\"NFROZEN\",\"server_name\":\"frozen\",\"cluster\":\"test\",\"credential\":\"secret\"}\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("route +OK: %q %v", line, err)
	}
	eventually(t, 5*time.Second, "the frozen route up", func() bool { return a.NumRoutes() == 1 })
	return a, c
}

// TestFlushBarrierWaitsForRouteUpMeanwhile: a route that comes up while a
// client's barrier waits (here: while the only other route holds its
// PONG) got the new subscription in its full interest, and is live when
// the client's PONG goes out, so the barrier waits for it too. The new
// peer never answers, so the Flush returns only at the barrier's timeout,
// counted; a barrier that looked at its first snapshot of the routes only
// returned at once, with nothing counted.
func TestFlushBarrierWaitsForRouteUpMeanwhile(t *testing.T) {
	o := testOptions()
	clusterOptions(&o, 0)
	a := startServer(t, o, nil)
	p1, r1 := rawRoutePeer(t, a, "NPEER1", "peer1")
	eventually(t, 5*time.Second, "the first route up", func() bool { return a.NumRoutes() == 1 })
	nc := connectTCP(t, a)
	if _, err := nc.SubscribeSync("meanwhile"); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- nc.FlushTimeout(10 * time.Second) }()
	// The barrier's PING on the first route, after the RS+.
	for {
		line, err := r1.ReadString('\n')
		if err != nil {
			t.Fatalf("first route: %v", err)
		}
		if line == "PING\r\n" {
			break
		}
	}
	_, r2 := rawRoutePeer(t, a, "NPEER2", "peer2")
	eventually(t, 5*time.Second, "the second route up", func() bool { return a.NumRoutes() == 2 })
	// The new route learns the subscription from its full interest.
	for {
		line, err := r2.ReadString('\n')
		if err != nil {
			t.Fatalf("second route: %v", err)
		}
		if strings.HasPrefix(line, "RS+ ") && strings.Contains(line, " meanwhile") {
			break
		}
	}
	if _, err := p1.Write([]byte("PONG\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n := a.Stats().InterestBarrierTimeouts; n != 1 {
		t.Fatalf("barrier timeouts %d after %v, want 1: the barrier did not wait for the route that came up meanwhile", n, time.Since(start))
	}
}

// rawRoutePeer passes the route handshake with a by hand over a raw
// socket, as broker id/name, and returns the connection and its reader.
func rawRoutePeer(t *testing.T, a *broker.Server, id, name string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", a.RouteAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("route INFO: %q %v", line, err)
	}
	if _, err := fmt.Fprintf(c, "CONNECT {\"server_id\":%q,\"server_name\":%q,\"cluster\":\"test\",\"credential\":\"secret\"}\r\n", id, name); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("route +OK: %q %v", line, err)
	}
	return c, r
}

// TestBarrierDoesNotHoldLocalDelivery: a client whose one read holds a
// PUB, a SUB and a PING (nats.go coalesces them) waits in the barrier for
// a frozen route, but what that read delivered to a local subscriber goes
// out at once, and so does another client's message to the same
// subscriber. (The barrier once blocked before the read's deliveries were
// flushed: both waited the 2 s.)
func TestBarrierDoesNotHoldLocalDelivery(t *testing.T) {
	a, peer := startFrozenRoute(t)
	defer peer.Close()
	sub := connectTCP(t, a)
	s, err := sub.SubscribeSync("d")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.FlushTimeout(5 * time.Second); err != nil { // pays the frozen route's 2 s once
		t.Fatal(err)
	}
	other := connectTCP(t, a)
	raw, r := rawClient(t, a)

	start := time.Now()
	if _, err := raw.Write([]byte("PUB d 1\r\nx\r\nSUB other 1\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := other.Publish("d", []byte("y")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.NextMsg(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("local deliveries waited %v for another client's interest barrier", took)
	}
	for { // the server's own first PING may come before
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the barrier's PONG: %v", err)
		}
		if line == "PONG\r\n" {
			return
		}
		if line != "PING\r\n" {
			t.Fatalf("the barrier's PONG: got %q", line)
		}
	}
}

// rawClient connects to srv over a raw socket and completes CONNECT/PING.
func rawClient(t *testing.T, srv *broker.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.ClientURL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO") {
		t.Fatalf("INFO: %q %v", line, err)
	}
	if _, err := c.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("PONG: %q %v", line, err)
	}
	return c, r
}
