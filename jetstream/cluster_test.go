package jetstream_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// jsCluster starts three broker processes with JetStream, clustered by
// gossip (A the seed), and waits until every pair routes messages.
func jsCluster(t *testing.T) []*testutil.Proc {
	t.Helper()
	var procs []*testutil.Proc
	seed := ""
	for _, name := range []string{"A", "B", "C"} {
		gp := testutil.FreePort(t)
		args := []string{
			"--cluster", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "--cluster_name", "js",
			"--gossip_addr", "127.0.0.1", "--gossip_port", fmt.Sprint(gp),
			"-js", "--store_dir", t.TempDir(),
		}
		if seed != "" {
			args = append(args, "--gossip_seeds", seed)
		} else {
			seed = fmt.Sprintf("127.0.0.1:%d", gp)
		}
		procs = append(procs, testutil.StartBroker(t, name, args...))
	}
	conns := make([]*nats.Conn, len(procs))
	for i, p := range procs {
		conns[i] = connect(t, p.URL())
	}
	for i, sub := range conns {
		s, err := sub.SubscribeSync("mesh." + procs[i].Name)
		if err != nil {
			t.Fatal(err)
		}
		sub.Flush()
		for j, pub := range conns {
			if i == j {
				continue
			}
			testutil.Eventually(t, 20*time.Second, procs[j].Name+" routes to "+procs[i].Name, func() bool {
				pub.Publish("mesh."+procs[i].Name, nil)
				_, err := s.NextMsg(100 * time.Millisecond)
				return err == nil
			})
		}
		s.Unsubscribe()
	}
	return procs
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func clusterJS(t *testing.T, url string) njs.JetStream {
	t.Helper()
	js, err := njs.New(connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func wantAPIError(t *testing.T, err error, code njs.ErrorCode, text string) {
	t.Helper()
	var ae *njs.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want API error %d", err, code)
	}
	if ae.ErrorCode != code || (text != "" && ae.Description != text) {
		t.Fatalf("err = %d %q, want %d %q", ae.ErrorCode, ae.Description, code, text)
	}
}

func streamNames(t *testing.T, js njs.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(ctx(t))
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("stream names: %v", err)
	}
	slices.Sort(names)
	return names
}

// TestJetStreamCluster: a stream created on one broker is used from
// clients of the others: info, publish, pull and push consumers, key-value,
// names and lists that gather every broker, refusals across brokers, and
// a broker that leaves.
func TestJetStreamCluster(t *testing.T) {
	procs := jsCluster(t)
	a, b, c := procs[0], procs[1], procs[2]
	jsA, jsB, jsC := clusterJS(t, a.URL()), clusterJS(t, b.URL()), clusterJS(t, c.URL())

	// Created on A (from a client of A), seen from B.
	if _, err := jsA.CreateStream(ctx(t), njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	s, err := jsB.Stream(ctx(t), "ORDERS")
	if err != nil {
		t.Fatalf("info from B: %v", err)
	}
	// Created on B (a client of B), answered once.
	if _, err := jsB.CreateStream(ctx(t), njs.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := jsC.Stream(ctx(t), "EVENTS"); err != nil {
		t.Fatalf("EVENTS from C: %v", err)
	}

	// Published from C, stored once on A.
	for i := 1; i <= 10; i++ {
		ack, err := jsC.Publish(ctx(t), fmt.Sprintf("orders.%d", i), []byte("o"))
		if err != nil {
			t.Fatalf("publish from C: %v", err)
		}
		if ack.Stream != "ORDERS" || ack.Sequence != uint64(i) {
			t.Fatalf("ack = %+v, want ORDERS %d", ack, i)
		}
	}
	if info, err := s.Info(ctx(t)); err != nil || info.State.Msgs != 10 {
		t.Fatalf("state = %+v %v, want 10 messages", info, err)
	}

	// Pulled from B, acked from B.
	cons, err := jsB.CreateOrUpdateConsumer(ctx(t), "ORDERS", njs.ConsumerConfig{Durable: "pull", AckPolicy: njs.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("consumer from B: %v", err)
	}
	batch, err := cons.Fetch(10, njs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if want := fmt.Sprintf("orders.%d", n); m.Subject() != want {
			t.Fatalf("message %d subject %q, want %q", n, m.Subject(), want)
		}
		if err := m.DoubleAck(ctx(t)); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if n != 10 || batch.Error() != nil {
		t.Fatalf("fetched %d (%v), want 10", n, batch.Error())
	}
	ci, err := jsC.Consumer(ctx(t), "ORDERS", "pull")
	if err != nil {
		t.Fatal(err)
	}
	if info := ci.CachedInfo(); info.NumAckPending != 0 || info.AckFloor.Stream != 10 {
		t.Fatalf("consumer from C: ack pending %d, floor %d", info.NumAckPending, info.AckFloor.Stream)
	}

	// Pushed to a subscriber on B (nats.go's legacy API).
	ncB := connect(t, b.URL())
	legacyB, _ := ncB.JetStream()
	got := make(chan *nats.Msg, 20)
	sub, err := legacyB.Subscribe("orders.>", func(m *nats.Msg) { m.Ack(); got <- m }, nats.Durable("push"), nats.ManualAck(), nats.DeliverAll())
	if err != nil {
		t.Fatalf("push subscribe on B: %v", err)
	}
	defer sub.Unsubscribe()
	for i := 1; i <= 10; i++ {
		select {
		case m := <-got:
			if want := fmt.Sprintf("orders.%d", i); m.Subject != want {
				t.Fatalf("pushed %q, want %q", m.Subject, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("push: %d of 10", i-1)
		}
	}

	// Key-value from a client of C (bucket owned by C), used from A and B.
	kvC, err := jsC.CreateKeyValue(ctx(t), njs.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatalf("kv from C: %v", err)
	}
	if _, err := kvC.Put(ctx(t), "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	kvA, err := jsA.KeyValue(ctx(t), "cfg")
	if err != nil {
		t.Fatalf("kv from A: %v", err)
	}
	if _, err := kvA.Put(ctx(t), "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	kvB, err := jsB.KeyValue(ctx(t), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kvB.Get(ctx(t), "k"); err != nil || string(e.Value()) != "v2" || e.Revision() != 2 {
		t.Fatalf("get from B: %v %v", e, err)
	}
	w, err := kvB.Watch(ctx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if e := <-w.Updates(); e == nil || string(e.Value()) != "v2" {
		t.Fatalf("watch initial = %v", e)
	}
	if e := <-w.Updates(); e != nil {
		t.Fatalf("watch end of initial values = %v", e)
	}
	kvC.Put(ctx(t), "k", []byte("v3"))
	select {
	case e := <-w.Updates():
		if e == nil || string(e.Value()) != "v3" {
			t.Fatalf("watch update = %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch: no update")
	}

	// Names, lists and account info from each broker: every stream (the
	// consumers: pull, push and the watcher's).
	want := []string{"EVENTS", "KV_cfg", "ORDERS"}
	for i, js := range []njs.JetStream{jsA, jsB, jsC} {
		if got := streamNames(t, js); !slices.Equal(got, want) {
			t.Fatalf("names from %s = %v, want %v", procs[i].Name, got, want)
		}
		var listed []string
		l := js.ListStreams(ctx(t))
		for si := range l.Info() {
			listed = append(listed, si.Config.Name)
		}
		if l.Err() != nil || !slices.Equal(listed, want) {
			t.Fatalf("list from %s = %v (%v), want %v", procs[i].Name, listed, l.Err(), want)
		}
		ai, err := js.AccountInfo(ctx(t))
		if err != nil || ai.Streams != 3 || ai.Consumers != 3 {
			t.Fatalf("account info from %s: %+v %v", procs[i].Name, ai, err)
		}
	}

	// Refusals across brokers.
	_, err = jsC.CreateStream(ctx(t), njs.StreamConfig{Name: "ORDERS", Subjects: []string{"other.>"}})
	wantAPIError(t, err, 10058, "") // nats.go puts its own text
	_, err = jsC.CreateStream(ctx(t), njs.StreamConfig{Name: "MORE", Subjects: []string{"orders.x"}})
	wantAPIError(t, err, 10065, "subjects overlap with an existing stream")
	if _, err := jsC.CreateStream(ctx(t), njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatalf("identical create from C: %v", err)
	}
	for _, js := range []njs.JetStream{jsA, jsB} {
		_, err = js.CreateStream(ctx(t), njs.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3})
		wantAPIError(t, err, 10074, "replicas > 1 not supported in non-clustered mode")
	}

	// A leaves: its stream goes from the others' lists, no call hangs.
	a.Cmd.Process.Kill()
	a.Cmd.Wait()
	for i, js := range []njs.JetStream{jsB, jsC} {
		testutil.Eventually(t, 20*time.Second, "ORDERS gone from "+procs[i+1].Name, func() bool {
			return !slices.Contains(streamNames(t, js), "ORDERS")
		})
		if got := streamNames(t, js); !slices.Equal(got, []string{"EVENTS", "KV_cfg"}) {
			t.Fatalf("names from %s after A left = %v", procs[i+1].Name, got)
		}
	}
	if _, err := kvB.Get(ctx(t), "k"); err != nil {
		t.Fatalf("kv after A left: %v", err)
	}
}

// TestJetStreamClusterBadRequest: account-level calls with a bad
// body are answered once, by the engine of the broker asked.
func TestJetStreamClusterBadRequest(t *testing.T) {
	procs := jsCluster(t)
	nc := connect(t, procs[1].URL())
	m, err := nc.Request("$JS.API.STREAM.NAMES", []byte("{bad"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), `"err_code":10025`) {
		t.Fatalf("answer = %s", m.Data)
	}
	// Exactly one answer to a request: count what an inbox gets.
	inbox := nats.NewInbox()
	s, _ := nc.SubscribeSync(inbox)
	nc.PublishRequest("$JS.API.INFO", inbox, nil)
	if _, err := s.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if m, err := s.NextMsg(time.Second); err == nil {
		t.Fatalf("a second answer: %s", m.Data)
	}
}
