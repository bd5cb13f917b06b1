package broker_test

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// BenchmarkLeafPubSub128: a publisher on a leaf, its subscriber on the hub,
// 128 B messages across one leaf connection (compare BenchmarkPubSub128,
// the same within one broker).
func BenchmarkLeafPubSub128(b *testing.B) {
	ho := testOptions()
	ho.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startBench(b, ho)
	lo := testOptions()
	lo.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{"nats://" + hub.LeafAddr().String()}}}}
	leaf := startBench(b, lo)
	pub, subConn := benchConnect(b, leaf), benchConnect(b, hub)
	var received atomic.Int64
	sub, err := subConn.Subscribe("bench.leaf", func(*nats.Msg) { received.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	subConn.Flush()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ls := leaf.Leafs(true); len(ls) == 1 && slices.Contains(ls[0].Subs, "bench.leaf") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the hub's interest did not reach the leaf")
		}
	}
	payload := bytes.Repeat([]byte("x"), 128)
	b.SetBytes(int64(len(payload)))
	var sent int64
	for b.Loop() {
		if err := pub.Publish("bench.leaf", payload); err != nil {
			b.Fatal(err)
		}
		if sent++; sent-received.Load() > 8192 {
			for sent-received.Load() > 2048 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	pub.Flush()
	for deadline := time.Now().Add(30 * time.Second); received.Load() < sent; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", received.Load(), sent)
		}
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}

func startBench(b *testing.B, o broker.Options) *broker.Server {
	b.Helper()
	srv, err := broker.New(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv
}
