package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/jetstream"
)

// jsClusterConf is one broker of an in-process JetStream cluster: account
// A has JetStream, N has not; the routes are dialled by the test.
const jsClusterConf = `listen: 127.0.0.1:-1
server_name: %s
jetstream { store_dir: %q }
cluster { name: js, listen: 127.0.0.1:0 }
accounts {
  A: { jetstream: enabled, users: [{user: a, password: a}] }
  N: { users: [{user: n, password: n}] }
}
`

// jsBroker is one broker of startJSCluster, started in-process as run
// starts it (the config file, the server, JetStream).
type jsBroker struct {
	name string
	srv  *broker.Server
}

// url is the client URL with user's credentials (password = user).
func (b *jsBroker) url(user string) string {
	return fmt.Sprintf("nats://%s:%s@%s", user, user, b.srv.ClientURL()[len("nats://"):])
}

// startJSCluster starts three brokers with JetStream in one process,
// routes them into a full mesh and waits until every pair carries
// messages of account A and until each broker's JetStream knows the
// other two (a names request from each answers from all three).
func startJSCluster(t *testing.T) []*jsBroker {
	t.Helper()
	dir := t.TempDir()
	var bs []*jsBroker
	for _, name := range []string{"A", "B", "C"} {
		conf := writeConfAs(t, dir, name, fmt.Sprintf(jsClusterConf, name, filepath.Join(dir, name, "store")))
		cfg, err := parseFlags([]string{"-c", conf}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := broker.New(cfg.opts)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetJetStream(cfg.js.enabled)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		stop, err := startJetStream(&cfg.js, jetstream.NewService(srv.ID()), srv, name, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		bs = append(bs, &jsBroker{name: name, srv: srv})
	}
	for i := range bs {
		for j := i + 1; j < len(bs); j++ {
			if err := bs[i].srv.ConnectRoute(context.Background(), bs[j].srv.RouteAddr().String()); err != nil {
				t.Fatalf("route %s-%s: %v", bs[i].name, bs[j].name, err)
			}
		}
	}
	for _, b := range bs {
		testutil.Eventually(t, 10*time.Second, b.name+" routed to both", func() bool { return b.srv.NumRoutes() == 2 })
	}
	conns := make([]*nats.Conn, len(bs))
	for i, b := range bs {
		conns[i] = connect(t, b.url("a"))
	}
	for i, sub := range conns {
		s, err := sub.SubscribeSync("mesh." + bs[i].name)
		if err != nil {
			t.Fatal(err)
		}
		sub.Flush()
		for j, pub := range conns {
			if i != j {
				testutil.Eventually(t, 10*time.Second, bs[j].name+" routes to "+bs[i].name, func() bool {
					pub.Publish("mesh."+bs[i].name, nil)
					_, err := s.NextMsg(50 * time.Millisecond)
					return err == nil
				})
			}
		}
		s.Unsubscribe()
	}
	// Every broker's JetStream has heard the others when an account info
	// gathered from each counts the streams of all: create one per broker.
	for _, b := range bs {
		js := jsOf(t, b, "a")
		if _, err := js.CreateStream(jsCtx(t), njs.StreamConfig{Name: "MESH_" + b.name, Subjects: []string{"mesh.js." + b.name}}); err != nil {
			t.Fatalf("stream on %s: %v", b.name, err)
		}
	}
	for _, b := range bs {
		js := jsOf(t, b, "a")
		testutil.Eventually(t, 10*time.Second, b.name+" knows every broker's stream", func() bool {
			ai, err := js.AccountInfo(jsCtx(t))
			return err == nil && ai.Streams == len(bs)
		})
	}
	return bs
}

func jsOf(t *testing.T, b *jsBroker, user string) njs.JetStream {
	t.Helper()
	js, err := njs.New(connect(t, b.url(user)))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func jsCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestJetStreamClusterInProcess: the cluster layer of three routed brokers
// in one process (so the race detector sees all of it): a stream created
// on A used from B and C (publish, pull fetch and acks, push), a
// key-value bucket of C's used from A and B, names and account info
// gathered from each broker.
func TestJetStreamClusterInProcess(t *testing.T) {
	bs := startJSCluster(t)
	jsA, jsB, jsC := jsOf(t, bs[0], "a"), jsOf(t, bs[1], "a"), jsOf(t, bs[2], "a")

	if _, err := jsA.CreateStream(jsCtx(t), njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		js := []njs.JetStream{jsB, jsC}[i%2]
		ack, err := js.Publish(jsCtx(t), fmt.Sprintf("orders.%d", i), []byte("o"))
		if err != nil || ack.Stream != "ORDERS" || ack.Sequence != uint64(i) {
			t.Fatalf("publish %d: %+v %v", i, ack, err)
		}
	}
	cons, err := jsB.CreateOrUpdateConsumer(jsCtx(t), "ORDERS", njs.ConsumerConfig{Durable: "pull", AckPolicy: njs.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("consumer from B: %v", err)
	}
	n := 0
	for n < 20 {
		batch, err := cons.Fetch(7, njs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			n++
			got++
			if want := fmt.Sprintf("orders.%d", n); m.Subject() != want {
				t.Fatalf("message %d: %q, want %q", n, m.Subject(), want)
			}
			if err := m.DoubleAck(jsCtx(t)); err != nil {
				t.Fatalf("ack %d: %v", n, err)
			}
		}
		if batch.Error() != nil || got == 0 {
			t.Fatalf("fetch after %d: %d, %v", n, got, batch.Error())
		}
	}
	ci, err := jsC.Consumer(jsCtx(t), "ORDERS", "pull")
	if err != nil {
		t.Fatal(err)
	}
	if info := ci.CachedInfo(); info.NumAckPending != 0 || info.AckFloor.Stream != 20 {
		t.Fatalf("consumer from C: ack pending %d, floor %d", info.NumAckPending, info.AckFloor.Stream)
	}

	// Push to a subscriber on C, flow control on.
	legacyC, _ := connect(t, bs[2].url("a")).JetStream()
	pushed := make(chan *nats.Msg, 32)
	sub, err := legacyC.Subscribe("orders.>", func(m *nats.Msg) { m.Ack(); pushed <- m },
		nats.Durable("push"), nats.ManualAck(), nats.DeliverAll(), nats.EnableFlowControl(), nats.IdleHeartbeat(time.Second))
	if err != nil {
		t.Fatalf("push on C: %v", err)
	}
	defer sub.Unsubscribe()
	for i := 1; i <= 20; i++ {
		select {
		case m := <-pushed:
			if want := fmt.Sprintf("orders.%d", i); m.Subject != want {
				t.Fatalf("pushed %q, want %q", m.Subject, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("push: %d of 20", i-1)
		}
	}

	kvC, err := jsC.CreateKeyValue(jsCtx(t), njs.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatalf("kv on C: %v", err)
	}
	kvA, err := jsA.KeyValue(jsCtx(t), "cfg")
	if err != nil {
		t.Fatalf("kv from A: %v", err)
	}
	for i := range 5 {
		kv := []njs.KeyValue{kvA, kvC}[i%2]
		if _, err := kv.Put(jsCtx(t), "k", fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	kvB, err := jsB.KeyValue(jsCtx(t), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kvB.Get(jsCtx(t), "k"); err != nil || string(e.Value()) != "v4" || e.Revision() != 5 {
		t.Fatalf("get from B: %v %v", e, err)
	}

	want := []string{"KV_cfg", "MESH_A", "MESH_B", "MESH_C", "ORDERS"}
	for i, js := range []njs.JetStream{jsA, jsB, jsC} {
		var names []string
		l := js.StreamNames(jsCtx(t))
		for name := range l.Name() {
			names = append(names, name)
		}
		slices.Sort(names)
		if l.Err() != nil || !slices.Equal(names, want) {
			t.Fatalf("names from %s = %v (%v), want %v", bs[i].name, names, l.Err(), want)
		}
		ai, err := js.AccountInfo(jsCtx(t))
		if err != nil || ai.Streams != len(want) || ai.Consumers != 2 {
			t.Fatalf("account info from %s: %+v %v", bs[i].name, ai, err)
		}
	}
	if err := jsB.DeleteStream(jsCtx(t), "ORDERS"); err != nil {
		t.Fatalf("delete from B: %v", err)
	}
	if _, err := jsC.Stream(jsCtx(t), "ORDERS"); err == nil {
		t.Fatal("ORDERS after its delete")
	}
}

// TestJetStreamClusterNotEnabledOnce: a request of an account without
// JetStream is answered 10039 once, by the broker asked, not by every
// broker of the cluster.
func TestJetStreamClusterNotEnabledOnce(t *testing.T) {
	bs := startJSCluster(t)
	nc := connect(t, bs[0].url("n"))
	inbox := nats.NewInbox()
	answers, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("$JS.API.INFO", inbox, nil); err != nil {
		t.Fatal(err)
	}
	m, err := answers.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), `"err_code":10039`) {
		t.Fatalf("answer = %s", m.Data)
	}
	for _, b := range bs[1:] {
		refuserSettled(t, nc, b, "n")
	}
	if m, err := answers.NextMsg(0); err == nil {
		t.Fatalf("a second answer: %s", m.Data)
	}
}

// refuserSettled returns once whatever broker b's refuser in user's
// account answered to what nc sent before the call is in nc's
// subscriptions: nc's messages reach b (a barrier over the route, which
// is FIFO), b's refuser answers in order (a request of a client of b's
// comes back after them), and b's messages reach nc (a barrier back).
func refuserSettled(t *testing.T, nc *nats.Conn, b *jsBroker, user string) {
	t.Helper()
	far := connect(t, b.url(user))
	there, _ := far.SubscribeSync(nats.NewInbox())
	far.Flush()
	back, _ := nc.SubscribeSync(nats.NewInbox())
	nc.Flush()
	testutil.Eventually(t, 10*time.Second, "a barrier to "+b.name, func() bool {
		nc.Publish(there.Subject, nil)
		_, err := there.NextMsg(50 * time.Millisecond)
		return err == nil
	})
	if _, err := far.Request("$JS.API.INFO", nil, 5*time.Second); err != nil {
		t.Fatalf("refuser of %s: %v", b.name, err)
	}
	testutil.Eventually(t, 10*time.Second, "a barrier from "+b.name, func() bool {
		far.Publish(back.Subject, nil)
		_, err := back.NextMsg(50 * time.Millisecond)
		return err == nil
	})
}

// TestJetStreamClusterInternalSubjects: the clients of an account can
// neither see the cluster layer's traffic nor speak on its behalf: a
// subscription to everything gets none of it, a forged directory
// announcement (under the subjects the traffic had when it ran in the
// account, and under the account's name) claims no stream, and a forged
// part of a gathered answer is not merged.
func TestJetStreamClusterInternalSubjects(t *testing.T) {
	bs := startJSCluster(t)
	nc := connect(t, bs[1].url("a"))
	everything, _ := nc.SubscribeSync(">")
	internal, _ := nc.SubscribeSync("$MJSC.>")
	// Answer whatever looks like a gather with a part naming FAKE.
	forger, _ := nc.Subscribe("$MJSC.>", func(m *nats.Msg) {
		if strings.Contains(m.Subject, ".GATHER.") && m.Reply != "" {
			nc.Publish(m.Reply, []byte(`{"server":"0FORGED","names":["FAKE"],"info":{"streams":100}}`))
		}
	})
	defer forger.Unsubscribe()
	forged := []byte(`{"server":"0FORGED","name":"evil","streams":{"EVIL":["evil.>"],"MESH_A":["mesh.js.A"]}}`)
	for _, subject := range []string{"$MJSC.ALL.DIR", "$MJSC.A.ALL.DIR"} {
		if err := nc.Publish(subject, forged); err != nil {
			t.Fatal(err)
		}
	}
	// From the same connection, so the forgeries reached B's JetStream
	// before these requests.
	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := js.Stream(short, "EVIL"); !errors.Is(err, njs.ErrStreamNotFound) {
		t.Fatalf("info of the forged stream: %v, want stream not found", err)
	}
	if _, err := js.CreateStream(jsCtx(t), njs.StreamConfig{Name: "REAL", Subjects: []string{"evil.x"}}); err != nil {
		t.Fatalf("create over the forged stream's subjects: %v", err)
	}
	var names []string
	l := js.StreamNames(jsCtx(t))
	for n := range l.Name() {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"MESH_A", "MESH_B", "MESH_C", "REAL"}; l.Err() != nil || !slices.Equal(names, want) {
		t.Fatalf("names = %v (%v), want %v", names, l.Err(), want)
	}
	ai, err := js.AccountInfo(jsCtx(t))
	if err != nil || ai.Streams != 4 {
		t.Fatalf("account info: %+v %v", ai, err)
	}
	// The names request was gathered and announcements went out before
	// its answer, by the publisher that answered nc: had any of that
	// traffic reached nc, it would be queued by now.
	for _, s := range []*nats.Subscription{everything, internal} {
		for {
			m, err := s.NextMsg(0)
			if err != nil {
				break
			}
			if strings.HasPrefix(m.Subject, "$MJSC.") && !slices.Contains([]string{"$MJSC.ALL.DIR", "$MJSC.A.ALL.DIR"}, m.Subject) {
				t.Fatalf("a client of the account got %s: %s", m.Subject, m.Data)
			}
		}
	}
}

// TestJetStreamClusterAcksToOwner: acks and flow-control answers of a
// stream's consumers are wanted by the stream's owner only: on every
// broker one subscription matches them (the owner's engine on the owner,
// the route to the owner elsewhere), so they cross one route, not every
// route, and a stream of the other brokers' is not disturbed.
func TestJetStreamClusterAcksToOwner(t *testing.T) {
	bs := startJSCluster(t)
	js := jsOf(t, bs[0], "a")
	if _, err := js.CreateStream(jsCtx(t), njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"$JS.ACK.ORDERS.pull.1.1.1.1700000000000000000.0", "$JS.FC.ORDERS.push.AbCdEf"} {
		for _, b := range bs {
			subs, err := b.srv.MatchSubscriptions("A", subject)
			if err != nil {
				t.Fatal(err)
			}
			if len(subs) != 1 {
				t.Errorf("%s on %s: %d subscriptions match, want 1 (%+v)", subject, b.name, len(subs), subs)
			}
		}
	}
	// Acked from C, a stream of A's; the stream deleted, nobody wants them.
	cons, err := jsOf(t, bs[2], "a").CreateOrUpdateConsumer(jsCtx(t), "ORDERS", njs.ConsumerConfig{Durable: "pull", AckPolicy: njs.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(jsCtx(t), "orders.1", nil); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, njs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(jsCtx(t)); err != nil {
			t.Fatalf("ack from C: %v", err)
		}
	}
	// Pushed to C with flow control: 3 MB, past the first window (2 MB),
	// goes on only when C's answers reach A.
	payload := make([]byte, 64<<10)
	for i := range 48 {
		if _, err := js.Publish(jsCtx(t), fmt.Sprintf("orders.big.%d", i), payload); err != nil {
			t.Fatal(err)
		}
	}
	legacyC, _ := connect(t, bs[2].url("a")).JetStream()
	pushed := make(chan struct{}, 64)
	sub, err := legacyC.Subscribe("orders.big.>", func(m *nats.Msg) { m.Ack(); pushed <- struct{}{} },
		nats.Durable("push"), nats.ManualAck(), nats.DeliverAll(), nats.EnableFlowControl(), nats.IdleHeartbeat(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 48 {
		select {
		case <-pushed:
		case <-time.After(10 * time.Second):
			t.Fatalf("pushed %d of 48", i)
		}
	}
	sub.Unsubscribe()
	if err := js.DeleteStream(jsCtx(t), "ORDERS"); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if subs, _ := b.srv.MatchSubscriptions("A", "$JS.ACK.ORDERS.pull.1.1.1.1700000000000000000.0"); len(subs) != 0 {
			t.Errorf("acks of the deleted stream on %s: %d subscriptions", b.name, len(subs))
		}
	}
}
