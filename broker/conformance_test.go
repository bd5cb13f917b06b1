package broker_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// The conformance suite drives the broker with the real nats.go client, once
// per transport in transportCases.

type conformanceTest struct {
	name string
	run  func(t *testing.T, srv *broker.Server, tc *transportCase)
}

var conformanceTests = []conformanceTest{
	{"PubSub", testPubSub},
	{"Wildcards", testWildcards},
	{"QueueGroups", testQueueGroups},
	{"RequestReply", testRequestReply},
	{"NoResponders", testNoResponders},
	{"Headers", testHeaders},
	{"AutoUnsubscribe", testAutoUnsubscribe},
	{"EchoOff", testEchoOff},
	{"MaxPayload", testMaxPayload},
	{"FlushAndRTT", testFlush},
	{"ManySubscribers", testManySubscribers},
	{"UnsubscribeInFlight", testUnsubscribeInFlight},
	{"OrderAndLargePayloads", testOrderLarge},
	{"CloseRemovesInterest", testCloseRemovesInterest},
}

func TestConformance(t *testing.T) {
	for i := range transportCases {
		tc := &transportCases[i]
		t.Run(tc.name, func(t *testing.T) {
			for _, ct := range conformanceTests {
				t.Run(ct.name, func(t *testing.T) {
					srv := startServer(t, testOptions(), tc)
					ct.run(t, srv, tc)
				})
			}
		})
	}
}

// TestConformanceInAccount runs the nats.go tables in a named account:
// every client sends no credentials and lands in account A as its
// no_auth_user.
func TestConformanceInAccount(t *testing.T) {
	tc := &transportCases[0]
	for _, ct := range conformanceTests {
		t.Run(ct.name, func(t *testing.T) {
			o := testOptions()
			o.Auth = inAccountA()
			ct.run(t, startServer(t, o, tc), tc)
		})
	}
}

// inAccountA puts clients that send no credentials in account A, as its
// no_auth_user, beside an account B with a user of its own.
func inAccountA() *broker.AuthOptions {
	return &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "A", Users: []broker.User{{Name: "anon", Password: "x"}}},
			{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}},
		},
		NoAuthUser: "anon",
	}
}

func recv(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("next message on %q: %v", sub.Subject, err)
	}
	return m
}

// expectNone checks that sub gets nothing once a round trip has passed.
func expectNone(t *testing.T, nc *nats.Conn, sub *nats.Subscription) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("unexpected message on %q: %q", m.Subject, m.Data)
	}
}

func testPubSub(t *testing.T, srv *broker.Server, tc *transportCase) {
	pub, sub := connect(t, srv, tc), connect(t, srv, tc)
	s, _ := sub.SubscribeSync("greet")
	sub.Flush()
	if err := pub.Publish("greet", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("greet", nil); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s); string(m.Data) != "hello" || m.Subject != "greet" {
		t.Fatalf("got %q on %q", m.Data, m.Subject)
	}
	if m := recv(t, s); len(m.Data) != 0 {
		t.Fatalf("empty payload arrived as %q", m.Data)
	}
	other, _ := sub.SubscribeSync("greetings")
	expectNone(t, sub, other)
}

func testWildcards(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	star, _ := nc.SubscribeSync("a.*.c")
	full, _ := nc.SubscribeSync("a.>")
	lit, _ := nc.SubscribeSync("a.b.c")
	nc.Flush()
	for _, subj := range []string{"a.b.c", "a.x.c", "a.b", "a.b.c.d", "b.b.c"} {
		nc.Publish(subj, []byte(subj))
	}
	want := map[*nats.Subscription][]string{
		star: {"a.b.c", "a.x.c"},
		full: {"a.b.c", "a.x.c", "a.b", "a.b.c.d"},
		lit:  {"a.b.c"},
	}
	for s, subjects := range want {
		for _, subj := range subjects {
			if m := recv(t, s); m.Subject != subj {
				t.Fatalf("%s: got %q, want %q", s.Subject, m.Subject, subj)
			}
		}
		expectNone(t, nc, s)
	}
}

func testQueueGroups(t *testing.T, srv *broker.Server, tc *transportCase) {
	const members, msgs = 4, 2000
	var counts [members]atomic.Int64
	var plain atomic.Int64
	for i := 0; i < members; i++ {
		nc := connect(t, srv, tc)
		nc.QueueSubscribe("work", "workers", func(*nats.Msg) { counts[i].Add(1) })
		nc.Flush()
	}
	// A second group and a plain subscriber each get every message.
	other := connect(t, srv, tc)
	var second atomic.Int64
	other.QueueSubscribe("work", "auditors", func(*nats.Msg) { second.Add(1) })
	other.Subscribe("work", func(*nats.Msg) { plain.Add(1) })
	other.Flush()

	pub := connect(t, srv, tc)
	for i := 0; i < msgs; i++ {
		pub.Publish("work", []byte("job"))
	}
	pub.Flush()
	total := func() int64 {
		var n int64
		for i := range counts {
			n += counts[i].Load()
		}
		return n
	}
	eventually(t, 5*time.Second, "all messages delivered", func() bool {
		return total() == msgs && second.Load() == msgs && plain.Load() == msgs
	})
	// Exactly once per group: no extra deliveries arrive later.
	for _, nc := range []*nats.Conn{pub, other} {
		nc.Flush()
	}
	if n := total(); n != msgs {
		t.Fatalf("group delivered %d, want %d", n, msgs)
	}
	for i := range counts {
		if n := counts[i].Load(); n < msgs/members/2 {
			t.Fatalf("member %d got %d of %d: spread too uneven", i, n, msgs)
		}
	}
}

func testRequestReply(t *testing.T, srv *broker.Server, tc *transportCase) {
	svc, cli := connect(t, srv, tc), connect(t, srv, tc)
	svc.Subscribe("echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	svc.Flush()
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("q%d", i)
		r, err := cli.Request("echo", []byte(msg), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Data) != "re:"+msg {
			t.Fatalf("reply %q to %q", r.Data, msg)
		}
	}
	// Old-style request with a dedicated inbox.
	inbox := cli.NewRespInbox()
	s, _ := cli.SubscribeSync(inbox)
	cli.PublishRequest("echo", inbox, []byte("x"))
	if m := recv(t, s); string(m.Data) != "re:x" {
		t.Fatalf("reply %q", m.Data)
	}
}

func testNoResponders(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	start := time.Now()
	_, err := nc.Request("nobody.home", []byte("hi"), 5*time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("got %v, want ErrNoResponders", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("no-responders took %v: it should fail fast", d)
	}
	// A request with subscribers is answered as usual on the same client.
	nc.Subscribe("somebody.home", func(m *nats.Msg) { m.Respond([]byte("here")) })
	nc.Flush()
	if r, err := nc.Request("somebody.home", nil, 5*time.Second); err != nil || string(r.Data) != "here" {
		t.Fatalf("request with a responder: %v", err)
	}
}

func testHeaders(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	s, _ := nc.SubscribeSync("h")
	nc.Flush()
	m := nats.NewMsg("h")
	m.Header.Add("X-One", "1")
	m.Header.Add("X-Multi", "a")
	m.Header.Add("X-Multi", "b")
	m.Data = []byte("body")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	got := recv(t, s)
	if got.Header.Get("X-One") != "1" || strings.Join(got.Header.Values("X-Multi"), ",") != "a,b" || string(got.Data) != "body" {
		t.Fatalf("headers %v data %q", got.Header, got.Data)
	}
	// Headers with an empty body.
	m2 := nats.NewMsg("h")
	m2.Header.Set("Only", "header")
	nc.PublishMsg(m2)
	if got := recv(t, s); got.Header.Get("Only") != "header" || len(got.Data) != 0 {
		t.Fatalf("headers-only message: %v %q", got.Header, got.Data)
	}
}

func testAutoUnsubscribe(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	s, _ := nc.SubscribeSync("auto")
	s.AutoUnsubscribe(3)
	nc.Flush()
	for i := 0; i < 10; i++ {
		nc.Publish("auto", []byte{byte(i)})
	}
	for i := 0; i < 3; i++ {
		recv(t, s)
	}
	nc.Flush()
	eventually(t, 2*time.Second, "subscription removed in the broker", func() bool {
		return srv.Stats().Subscriptions == 0
	})
	if _, err := s.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatal("got a 4th message after auto-unsubscribe at 3")
	}
	// Max already reached when UNSUB arrives: removed at once.
	s2, _ := nc.SubscribeSync("auto2")
	nc.Flush()
	nc.Publish("auto2", nil)
	nc.Publish("auto2", nil)
	recv(t, s2)
	recv(t, s2)
	s2.AutoUnsubscribe(1)
	nc.Flush()
	eventually(t, 2*time.Second, "exhausted subscription removed", func() bool {
		return srv.Stats().Subscriptions == 0
	})
}

func testEchoOff(t *testing.T, srv *broker.Server, tc *transportCase) {
	quiet := connect(t, srv, tc, nats.NoEcho())
	loud := connect(t, srv, tc)
	qs, _ := quiet.SubscribeSync("e")
	ls, _ := loud.SubscribeSync("e")
	quiet.Flush()
	loud.Flush()
	quiet.Publish("e", []byte("from-quiet"))
	loud.Publish("e", []byte("from-loud"))
	quiet.Flush()
	loud.Flush()
	if m := recv(t, qs); string(m.Data) != "from-loud" {
		t.Fatalf("no-echo client got %q", m.Data)
	}
	expectNone(t, quiet, qs)
	got := map[string]bool{string(recv(t, ls).Data): true, string(recv(t, ls).Data): true}
	if !got["from-quiet"] || !got["from-loud"] {
		t.Fatalf("echoing client got %v", got)
	}
	// Queue members owned by the no-echo publisher are skipped too: the
	// other client's member of the group gets every message.
	own, _ := quiet.QueueSubscribeSync("eq", "g")
	other, _ := loud.QueueSubscribeSync("eq", "g")
	quiet.Flush()
	loud.Flush()
	for i := 0; i < 20; i++ {
		quiet.Publish("eq", nil)
	}
	quiet.Flush()
	for i := 0; i < 20; i++ {
		recv(t, other)
	}
	expectNone(t, quiet, own)
}

func testMaxPayload(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	if got := nc.MaxPayload(); got != broker.DefaultMaxPayload {
		t.Fatalf("INFO max_payload %d", got)
	}
	s, _ := nc.SubscribeSync("big")
	nc.Flush()
	if err := nc.Publish("big", make([]byte, broker.DefaultMaxPayload+1)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("oversized publish: %v", err)
	}
	exact := make([]byte, broker.DefaultMaxPayload)
	exact[len(exact)-1] = 7
	if err := nc.Publish("big", exact); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s); len(m.Data) != len(exact) || m.Data[len(exact)-1] != 7 {
		t.Fatalf("max-size payload arrived with %d bytes", len(m.Data))
	}
}

func testFlush(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	for i := 0; i < 20; i++ {
		if err := nc.FlushTimeout(2 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if rtt, err := nc.RTT(); err != nil || rtt <= 0 {
		t.Fatalf("rtt %v err %v", rtt, err)
	}
	if id := nc.ConnectedServerId(); id != srv.ID() {
		t.Fatalf("server id %q, want %q", id, srv.ID())
	}
}

func testManySubscribers(t *testing.T, srv *broker.Server, tc *transportCase) {
	const conns, subsEach, msgs = 10, 20, 50
	var got atomic.Int64
	for i := 0; i < conns; i++ {
		nc := connect(t, srv, tc)
		for j := 0; j < subsEach; j++ {
			nc.Subscribe("fan.out", func(*nats.Msg) { got.Add(1) })
		}
		nc.Flush()
	}
	pub := connect(t, srv, tc)
	for i := 0; i < msgs; i++ {
		pub.Publish("fan.out", []byte("x"))
	}
	pub.Flush()
	want := int64(conns * subsEach * msgs)
	eventually(t, 10*time.Second, "fan-out to every subscriber", func() bool { return got.Load() == want })
}

func testUnsubscribeInFlight(t *testing.T, srv *broker.Server, tc *transportCase) {
	pub, subc := connect(t, srv, tc), connect(t, srv, tc)
	var got atomic.Int64
	s, _ := subc.Subscribe("flow", func(*nats.Msg) { got.Add(1) })
	subc.Flush()
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				pub.Publish("flow", []byte("x"))
			}
		}
	}()
	eventually(t, 5*time.Second, "traffic flowing", func() bool { return got.Load() > 100 })
	if err := s.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	subc.Flush()
	eventually(t, 2*time.Second, "interest gone", func() bool { return srv.Stats().Subscriptions == 0 })
	close(stop)
	wg.Wait()
	pub.Flush()
	if !subc.IsConnected() || !pub.IsConnected() {
		t.Fatal("a client was disconnected")
	}
}

func testOrderLarge(t *testing.T, srv *broker.Server, tc *transportCase) {
	pub, subc := connect(t, srv, tc), connect(t, srv, tc)
	s, _ := subc.SubscribeSync("ord")
	s.SetPendingLimits(-1, -1)
	subc.Flush()
	sizes := []int{0, 1, 100, 4096, 70000, 300000}
	const rounds = 20
	for i := 0; i < rounds; i++ {
		for _, n := range sizes {
			b := make([]byte, n)
			for j := range b {
				b[j] = byte(i + j)
			}
			pub.Publish("ord", b)
		}
	}
	pub.Flush()
	for i := 0; i < rounds; i++ {
		for _, n := range sizes {
			m := recv(t, s)
			if len(m.Data) != n {
				t.Fatalf("round %d: got %d bytes, want %d", i, len(m.Data), n)
			}
			for j := range m.Data {
				if m.Data[j] != byte(i+j) {
					t.Fatalf("round %d size %d: byte %d corrupted", i, n, j)
				}
			}
		}
	}
}

func testCloseRemovesInterest(t *testing.T, srv *broker.Server, tc *transportCase) {
	nc := connect(t, srv, tc)
	for i := 0; i < 5; i++ {
		nc.SubscribeSync(fmt.Sprintf("gone.%d", i))
	}
	nc.Flush()
	if n := srv.Stats().Subscriptions; n != 5 {
		t.Fatalf("subscriptions %d, want 5", n)
	}
	nc.Close()
	eventually(t, 5*time.Second, "subscriptions removed after close", func() bool {
		st := srv.Stats()
		return st.Subscriptions == 0 && st.Connections == 0
	})
}

// The first server PING goes out soon after connect, so the round trip is
// known (for /connz rtt) without waiting a full ping interval.
func TestRTTMeasured(t *testing.T) {
	o := testOptions()
	o.PingInterval = 100 * time.Millisecond
	srv := startServer(t, o, nil)
	nc := connectTCP(t, srv)
	nc.Flush()
	eventually(t, 5*time.Second, "rtt measured", func() bool {
		cs := srv.Connections(false)
		return len(cs) == 1 && cs[0].RTT > 0
	})
}
