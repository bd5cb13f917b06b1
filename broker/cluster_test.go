package broker_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/tcp"
)

// startMesh starts n clustered brokers and routes them into a full mesh by
// explicit ConnectRoute calls (gossip discovery is tested in the cluster
// package; this tests the route layer alone).
func startMesh(t *testing.T, n int, compress bool) []*broker.Server {
	t.Helper()
	return startMeshWith(t, n, func(o *broker.Options) { o.Cluster.Compression = compress })
}

// startMeshWith is startMesh with set applied to each broker's options.
func startMeshWith(t *testing.T, n int, set func(*broker.Options)) []*broker.Server {
	t.Helper()
	srvs := make([]*broker.Server, n)
	for i := range srvs {
		o := testOptions()
		clusterOptions(&o, i)
		set(&o)
		srvs[i] = startServer(t, o, nil)
	}
	meshUp(t, srvs)
	return srvs
}

// clusterOptions names broker i of a test cluster and gives it a route
// listener.
func clusterOptions(o *broker.Options, i int) {
	o.Name = fmt.Sprintf("b%d", i)
	o.Cluster = &broker.ClusterOptions{
		Name:       "test",
		Listen:     broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		Credential: "secret",
	}
}

// meshUp routes every pair of srvs and waits for the full mesh.
func meshUp(t *testing.T, srvs []*broker.Server) {
	t.Helper()
	n := len(srvs)
	for i := range srvs {
		for j := i + 1; j < n; j++ {
			if err := srvs[i].ConnectRoute(context.Background(), srvs[j].RouteAddr().String()); err != nil {
				t.Fatalf("route %d->%d: %v", i, j, err)
			}
		}
	}
	for _, s := range srvs {
		eventually(t, 5*time.Second, "full mesh", func() bool { return s.NumRoutes() == n-1 })
	}
}

func connectTCP(t *testing.T, srv *broker.Server, opts ...nats.Option) *nats.Conn {
	return connect(t, srv, &transportCases[0], opts...)
}

// waitInterest waits until every server in srvs sees at least want
// subscriptions (local plus remote) matching subject.
func waitInterest(t *testing.T, srvs []*broker.Server, subject string, want int) {
	t.Helper()
	for _, s := range srvs {
		eventually(t, 5*time.Second, "interest in "+subject, func() bool {
			r := s.Mux().Match([]byte(subject))
			n := len(r.Plain)
			for _, g := range r.Queues {
				for _, m := range g.Members {
					n += max(m.Weight, 1)
				}
			}
			return n >= want
		})
	}
}

func TestClusterPubSubAcrossBrokers(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			srvs := startMesh(t, 3, compress)
			subs := make([]*nats.Subscription, 3)
			for i, s := range srvs {
				nc := connectTCP(t, s)
				subs[i], _ = nc.SubscribeSync("news.>")
				nc.Flush()
			}
			waitInterest(t, srvs, "news.x", 3)
			for i, s := range srvs {
				pub := connectTCP(t, s)
				m := nats.NewMsg(fmt.Sprintf("news.%d", i))
				m.Header.Set("From", s.Name())
				m.Data = []byte("hello")
				pub.PublishMsg(m)
				pub.Flush()
			}
			// Every subscriber gets each of the 3 messages exactly once.
			for i, sub := range subs {
				seen := map[string]int{}
				for k := 0; k < 3; k++ {
					m := recv(t, sub)
					seen[m.Subject]++
					if m.Header.Get("From") == "" || string(m.Data) != "hello" {
						t.Fatalf("sub %d: bad message %v %q", i, m.Header, m.Data)
					}
				}
				if len(seen) != 3 {
					t.Fatalf("sub %d saw %v", i, seen)
				}
				if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
					t.Fatalf("sub %d: duplicate %q", i, m.Subject)
				}
			}
		})
	}
}

func TestClusterRequestReply(t *testing.T) {
	srvs := startMesh(t, 3, false)
	svc := connectTCP(t, srvs[0])
	svc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	svc.Flush()
	waitInterest(t, srvs, "svc.echo", 1)
	cli := connectTCP(t, srvs[2])
	for i := 0; i < 20; i++ {
		r, err := cli.Request("svc.echo", []byte{'a' + byte(i)}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Data) != "re:"+string(rune('a'+i)) {
			t.Fatalf("reply %q", r.Data)
		}
	}
	if _, err := cli.Request("svc.none", nil, 5*time.Second); err != nats.ErrNoResponders {
		t.Fatalf("no responders across the cluster: %v", err)
	}
}

func TestClusterQueueGroupExactlyOnce(t *testing.T) {
	srvs := startMesh(t, 3, false)
	const msgs = 10000
	var counts [6]atomic.Int64
	for i := 0; i < 6; i++ {
		nc := connectTCP(t, srvs[i%3])
		nc.QueueSubscribe("jobs", "workers", func(*nats.Msg) { counts[i].Add(1) })
		nc.Flush()
	}
	waitInterest(t, srvs, "jobs", 6)
	pub := connectTCP(t, srvs[0])
	for i := 0; i < msgs; i++ {
		pub.Publish("jobs", []byte("j"))
	}
	pub.Flush()
	total := func() (n int64) {
		for i := range counts {
			n += counts[i].Load()
		}
		return n
	}
	eventually(t, 10*time.Second, "all jobs delivered", func() bool { return total() >= msgs })
	// Let any duplicate arrive before checking.
	for _, s := range srvs {
		nc := connectTCP(t, s)
		nc.Flush()
	}
	if n := total(); n != msgs {
		t.Fatalf("delivered %d, want exactly %d", n, msgs)
	}
	for i := range counts {
		// Weighted picks spread by members: each of 6 gets roughly 1/6.
		if n := counts[i].Load(); n < msgs/6/2 {
			t.Fatalf("member %d got %d of %d: spread uneven", i, n, msgs)
		}
	}
}

func TestClusterInterestWithdrawnOnRouteLoss(t *testing.T) {
	srvs := startMesh(t, 2, false)
	nc := connectTCP(t, srvs[1])
	nc.SubscribeSync("gone")
	nc.Flush()
	waitInterest(t, srvs[:1], "gone", 1)
	srvs[1].Close()
	eventually(t, 5*time.Second, "remote interest removed", func() bool {
		return srvs[0].Mux().Match([]byte("gone")).Empty() && srvs[0].NumRoutes() == 0
	})
}

func TestClusterRouteRefused(t *testing.T) {
	mk := func(cluster, cred string) *broker.Server {
		o := testOptions()
		o.Cluster = &broker.ClusterOptions{Name: cluster, Credential: cred,
			Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
		return startServer(t, o, nil)
	}
	a := mk("c1", "k")
	for _, b := range []*broker.Server{mk("c2", "k"), mk("c1", "wrong")} {
		if err := b.ConnectRoute(context.Background(), a.RouteAddr().String()); err == nil {
			t.Fatal("route with wrong cluster name or credential was accepted")
		}
		if a.NumRoutes() != 0 || b.NumRoutes() != 0 {
			t.Fatal("refused route is registered")
		}
	}
	// Duplicates are refused too.
	c := mk("c1", "k")
	if err := c.ConnectRoute(context.Background(), a.RouteAddr().String()); err != nil {
		t.Fatal(err)
	}
	if err := c.ConnectRoute(context.Background(), a.RouteAddr().String()); err == nil {
		t.Fatal("duplicate route accepted")
	}
	// The other direction is kept only if it is the one the lower id
	// dialed; either way each side ends with exactly one route, and it works.
	_ = a.ConnectRoute(context.Background(), c.RouteAddr().String())
	eventually(t, 5*time.Second, "one route each", func() bool { return a.NumRoutes() == 1 && c.NumRoutes() == 1 })
	sub := connectTCP(t, a)
	s, _ := sub.SubscribeSync("dup.check")
	sub.Flush()
	waitInterest(t, []*broker.Server{c}, "dup.check", 1)
	connectTCP(t, c).Publish("dup.check", []byte("x"))
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("route after duplicate dial: %v", err)
	}
}

// TestClusterCrossedDials: both brokers of a pair dial each other at the
// same moment (the cluster package lets the higher id dial after a short
// grace, so this happens when a broker joins). Each time both ends settle
// on the same single connection, the one the lower id dialed, and messages
// cross it exactly once.
func TestClusterCrossedDials(t *testing.T) {
	for round := range 10 {
		var srvs [2]*broker.Server
		for i := range srvs {
			o := testOptions()
			o.Name = fmt.Sprintf("x%d-%d", round, i)
			o.Cluster = &broker.ClusterOptions{Name: "x", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
			srvs[i] = startServer(t, o, nil)
		}
		a, b := srvs[0], srvs[1]
		sub := connectTCP(t, b)
		s, err := sub.SubscribeSync("crossed")
		if err != nil {
			t.Fatal(err)
		}
		sub.Flush()
		start := make(chan struct{})
		done := make(chan struct{}, 2)
		for _, d := range [][2]*broker.Server{{a, b}, {b, a}} {
			go func() {
				<-start
				_ = d[0].ConnectRoute(context.Background(), d[1].RouteAddr().String()) // one of the two may lose
				done <- struct{}{}
			}()
		}
		close(start)
		<-done
		<-done
		// Both handshakes are over; the losing connection may still be
		// closing.
		settled := func(srv *broker.Server, peer string) bool {
			rs := srv.Routes()
			return len(rs) == 1 && rs[0].Solicited == (srv.ID() < peer)
		}
		eventually(t, 5*time.Second, "one route each, the one the lower id dialed", func() bool {
			return settled(a, b.ID()) && settled(b, a.ID())
		})
		// Interest the losing route carried dies with it (messages matched
		// to it in that moment are lost, as on any route that closes: core
		// NATS is at most once); wait for b's interest over the kept one.
		eventually(t, 5*time.Second, "interest over the kept route only", func() bool {
			rs := a.Routes()
			return len(rs) == 1 && rs[0].NumSubs == 1 && len(a.Mux().Match([]byte("crossed")).Plain) == 1
		})
		pub := connectTCP(t, a)
		for i := range 50 {
			pub.Publish("crossed", []byte{byte(i)})
		}
		pub.Flush()
		for i := range 50 {
			m, err := s.NextMsg(5 * time.Second)
			if err != nil || m.Data[0] != byte(i) {
				t.Fatalf("round %d: message %d: %v %v", round, i, m, err)
			}
		}
		// A duplicate would have arrived behind the originals by now: send a
		// round trip through b's client after a last message on a.
		pub.Publish("crossed", []byte{99})
		pub.Flush()
		if m, err := s.NextMsg(5 * time.Second); err != nil || m.Data[0] != 99 {
			t.Fatalf("round %d: after the 50: %v %v", round, m, err)
		}
		if n, _, _ := s.Pending(); n != 0 {
			t.Fatalf("round %d: %d extra messages (duplicates)", round, n)
		}
		sub.Close()
		pub.Close()
		a.Close()
		b.Close()
	}
}

func TestClusterRoutesOverTLS(t *testing.T) {
	cert, pool := selfSigned(t, "route")
	var srvs []*broker.Server
	for i := 0; i < 2; i++ {
		o := testOptions()
		tr := &tcp.Transport{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}}
		o.Cluster = &broker.ClusterOptions{Name: "tls", Credential: "k",
			Listen: broker.Listener{Transport: tr, Addr: "127.0.0.1:0"}}
		srvs = append(srvs, startServer(t, o, nil))
	}
	if err := srvs[0].ConnectRoute(context.Background(), srvs[1].RouteAddr().String()); err != nil {
		t.Fatal(err)
	}
	sub := connectTCP(t, srvs[1])
	s, _ := sub.SubscribeSync("over.tls")
	sub.Flush()
	waitInterest(t, srvs[:1], "over.tls", 1)
	connectTCP(t, srvs[0]).Publish("over.tls", []byte("x"))
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// A route dialer without a trusted certificate is refused.
	o := testOptions()
	_, other := selfSigned(t, "intruder")
	o.Cluster = &broker.ClusterOptions{Name: "tls", Credential: "k",
		Listen: broker.Listener{Transport: &tcp.Transport{TLS: &tls.Config{RootCAs: other}}, Addr: "127.0.0.1:0"}}
	bad := startServer(t, o, nil)
	if err := bad.ConnectRoute(context.Background(), srvs[1].RouteAddr().String()); err == nil {
		t.Fatal("untrusted route accepted")
	}
}

// A client in the middle of its CONNECT/PING handshake must get PONG before
// any async INFO, or nats.go fails the connect ("expected 'PONG'").
func TestAsyncInfoWaitsForHandshake(t *testing.T) {
	srv := startServer(t, testOptions(), nil)
	r := dialRaw(t, srv)
	r.readInfo()
	srv.SetConnectURLs([]string{"127.0.0.1:1"}) // cluster changes mid-handshake
	r.send(`CONNECT {"verbose":false,"protocol":1}` + "\r\nPING\r\n")
	r.expect("PONG\r\n")
	info, _ := r.readInfo() // the connect_info INFO carries the URLs
	if urls, _ := info["connect_urls"].([]any); len(urls) != 1 {
		t.Fatalf("connect_urls after handshake: %v", info["connect_urls"])
	}
	srv.SetConnectURLs([]string{"127.0.0.1:1", "127.0.0.1:2"})
	info, _ = r.readInfo()
	if urls, _ := info["connect_urls"].([]any); len(urls) != 2 {
		t.Fatalf("async INFO after handshake: %v", info["connect_urls"])
	}
}

// recordingObserver is a RouteObserver that admits the peers in allow and
// records route changes.
type recordingObserver struct {
	allow  sync.Map // peer id -> struct{}
	mu     sync.Mutex
	events []string // "+id" up, "-id" down
}

func (o *recordingObserver) AdmitRoute(id string) bool {
	_, ok := o.allow.Load(id)
	return ok
}

func (o *recordingObserver) RouteChanged(id string, up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, map[bool]string{true: "+", false: "-"}[up]+id)
}

func (o *recordingObserver) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// TestClusterRouteObserver: the observer's AdmitRoute refuses a peer on
// both ends (dialer and acceptor), and RouteChanged hears the route go up
// and down; nil removes the observer.
func TestClusterRouteObserver(t *testing.T) {
	mk := func() *broker.Server {
		o := testOptions()
		o.Cluster = &broker.ClusterOptions{Name: "c", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
		return startServer(t, o, nil)
	}
	a, b := mk(), mk()
	oa, ob := &recordingObserver{}, &recordingObserver{}
	a.SetRouteObserver(oa)
	b.SetRouteObserver(ob)
	ob.allow.Store(a.ID(), struct{}{})
	if err := b.ConnectRoute(context.Background(), a.RouteAddr().String()); err == nil {
		t.Fatal("the acceptor's observer refused the peer, yet the route came up")
	}
	if err := a.ConnectRoute(context.Background(), b.RouteAddr().String()); err == nil {
		t.Fatal("the dialer's observer refused the peer, yet the route came up")
	}
	if a.NumRoutes() != 0 || b.NumRoutes() != 0 || len(oa.seen()) != 0 || len(ob.seen()) != 0 {
		t.Fatalf("refused route registered or reported: %v %v", oa.seen(), ob.seen())
	}
	oa.allow.Store(b.ID(), struct{}{})
	if err := a.ConnectRoute(context.Background(), b.RouteAddr().String()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "route up on both ends", func() bool {
		return slices.Equal(oa.seen(), []string{"+" + b.ID()}) && slices.Equal(ob.seen(), []string{"+" + a.ID()})
	})
	a.CloseRoute(b.ID())
	eventually(t, 5*time.Second, "route down on both ends", func() bool {
		return slices.Equal(oa.seen(), []string{"+" + b.ID(), "-" + b.ID()}) &&
			slices.Equal(ob.seen(), []string{"+" + a.ID(), "-" + a.ID()})
	})
	a.SetRouteObserver(nil) // admits every peer again
	oa.allow.Delete(b.ID())
	if err := b.ConnectRoute(context.Background(), a.RouteAddr().String()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "route up", func() bool { return a.NumRoutes() == 1 })
	if n := len(oa.seen()); n != 2 {
		t.Fatalf("a removed observer was called: %v", oa.seen())
	}
}
