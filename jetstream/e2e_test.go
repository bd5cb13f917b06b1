package jetstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

// node is a broker with JetStream in $G, restartable on the same store.
type node struct {
	t   *testing.T
	dir string
	srv *broker.Server
	eng *jetstream.Engine
	ic  *broker.InternalClient
}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	o := broker.DefaultOptions()
	o.Port = -1
	srv, err := broker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e := jetstream.New(jetstream.Config{StoreDir: dir, TickInterval: 10 * time.Millisecond}, "$G", nil)
	ic, err := srv.NewInternalClient("$G", e.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ic); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, srv: srv, eng: e, ic: ic}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	if n.srv == nil {
		return
	}
	n.eng.Close()
	n.ic.Close()
	n.srv.Close()
	n.srv = nil
}

func (n *node) js(t *testing.T) njs.JetStream {
	nc, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStreamPublishFetchAckRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	js := n.js(t)
	c := ctx(t)
	if _, err := js.AccountInfo(c); err != nil {
		t.Fatalf("account info: %v", err)
	}
	s, err := js.CreateStream(c, njs.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for i := 0; i < 10; i++ {
		ack, err := js.Publish(c, "orders.new", []byte("o"))
		if err != nil || ack.Sequence != uint64(i+1) || ack.Stream != "ORDERS" {
			t.Fatalf("publish %d: %+v %v", i, ack, err)
		}
	}
	// Dedup and expectations.
	ack, err := js.Publish(c, "orders.x", []byte("d"), njs.WithMsgID("id-1"))
	if err != nil || ack.Duplicate {
		t.Fatalf("first id: %+v %v", ack, err)
	}
	ack, err = js.Publish(c, "orders.x", []byte("d"), njs.WithMsgID("id-1"))
	if err != nil || !ack.Duplicate || ack.Sequence != 11 {
		t.Fatalf("duplicate: %+v %v", ack, err)
	}
	_, err = js.Publish(c, "orders.x", []byte("d"), njs.WithExpectLastSequence(3))
	var apiErr *njs.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10071 {
		t.Fatalf("wrong last sequence: %v", err)
	}
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "OTHER", Subjects: []string{"orders.new"}}); !errors.As(err, &apiErr) || apiErr.ErrorCode != 10065 {
		t.Fatalf("overlap: %v", err)
	}
	if _, err := js.Stream(c, "NOPE"); !errors.Is(err, njs.ErrStreamNotFound) {
		t.Fatalf("missing stream: %v", err)
	}

	cons, err := s.CreateOrUpdateConsumer(c, njs.ConsumerConfig{Durable: "work", AckPolicy: njs.AckExplicitPolicy, FilterSubject: "orders.new", AckWait: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	batch, err := cons.Fetch(4, njs.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for m := range batch.Messages() {
		md, _ := m.Metadata()
		got = append(got, md.Sequence.Stream)
		if md.Sequence.Stream != 4 {
			m.Ack()
		}
	}
	if batch.Error() != nil || len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("fetched %v err %v", got, batch.Error())
	}
	// Message 4 was not acked: after ack_wait it comes again, after the
	// new ones 5..10.
	redelivered := false
	for !redelivered {
		batch, err = cons.Fetch(3, njs.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, _ := m.Metadata()
			if md.Sequence.Stream == 4 {
				if md.NumDelivered != 2 {
					t.Fatalf("redelivery: %+v", md)
				}
				redelivered = true
			}
			if err := m.DoubleAck(c); err != nil {
				t.Fatalf("double ack: %v", err)
			}
		}
		if n == 0 {
			t.Fatalf("message 4 was not redelivered: %v", batch.Error())
		}
	}
	info, err := cons.Info(c)
	if err != nil || info.AckFloor.Stream != 10 || info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("consumer info %+v %v", info, err)
	}
	// No messages: a no-wait fetch ends at once.
	empty, _ := s.CreateOrUpdateConsumer(c, njs.ConsumerConfig{Durable: "none", FilterSubject: "orders.none"})
	b2, err := empty.FetchNoWait(5)
	if err != nil {
		t.Fatal(err)
	}
	for range b2.Messages() {
		t.Fatal("a message for an empty filter")
	}

	// Restart on the same store: messages and the consumer's floor stay.
	n.stop()
	n = startNode(t, dir)
	js = n.js(t)
	s, err = js.Stream(c, "ORDERS")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if st := s.CachedInfo().State; st.Msgs != 11 || st.LastSeq != 11 {
		t.Fatalf("state after restart %+v", st)
	}
	cons, err = s.Consumer(c, "work")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := cons.Info(c); err != nil || info.AckFloor.Stream != 10 {
		t.Fatalf("consumer after restart %+v %v", info, err)
	}
	if _, err := js.Publish(c, "orders.new", []byte("after")); err != nil {
		t.Fatal(err)
	}
	batch, err = cons.Fetch(1, njs.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		md, _ := m.Metadata()
		if md.Sequence.Stream != 12 {
			t.Fatalf("after restart delivered %d, want 12", md.Sequence.Stream)
		}
	}
	ack, err = js.Publish(c, "orders.x", []byte("d"), njs.WithMsgID("id-1"))
	if err != nil || !ack.Duplicate {
		t.Fatalf("dedup after restart: %+v %v", ack, err)
	}
	if err := js.DeleteStream(c, "ORDERS"); err != nil {
		t.Fatal(err)
	}
	names := js.StreamNames(c)
	for range names.Name() {
		t.Fatal("a stream left after delete")
	}
}
