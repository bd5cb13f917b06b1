package node_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/node"
)

// The baseline: plain nats.go 1 publisher -> 1 subscriber, 128 B, on the
// same in-process broker the acked benchmark uses.
func BenchmarkRawPublish1to1(b *testing.B) {
	br := startBroker(b, "bench", "", nil)
	sub, err := nats.Connect(br.tcpURL())
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	pub, err := nats.Connect(br.tcpURL())
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	s, _ := sub.Subscribe("raw", func(*nats.Msg) {
		if got.Add(1) == n {
			close(done)
		}
	})
	s.SetPendingLimits(-1, -1)
	sub.Flush()
	payload := make([]byte, 128)
	b.SetBytes(128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pub.Publish("raw", payload)
	}
	pub.Flush()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// latencies is a Metrics that records ack latencies.
type latencies struct {
	node.NopMetrics
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) Observe(name string, d time.Duration) {
	if name == "ack_latency" {
		l.mu.Lock()
		l.d = append(l.d, d)
		l.mu.Unlock()
	}
}

// Acked direct messaging, 1 sender -> 1 receiver, 128 B: throughput until
// every message is confirmed, and send-to-ack latency percentiles.
func BenchmarkAckedDirect1to1(b *testing.B) {
	br := startBroker(b, "bench", "", nil)
	lat := &latencies{}
	scfg := testConfig("sender", br)
	scfg.AckTimeout = 5 * time.Second
	scfg.MaxBackoff = 5 * time.Second
	scfg.Metrics = lat
	sender := connectNode(b, scfg)
	receiver := connectNode(b, testConfig("receiver", br))
	var got atomic.Int64
	go func() {
		for range receiver.Messages() {
			got.Add(1)
		}
	}()
	waitPeers(b, []*node.Node{sender, receiver})
	payload := make([]byte, 128)
	ctx := context.Background()
	b.SetBytes(128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sender.Direct(ctx, "receiver", payload); err != nil {
			b.Fatal(err)
		}
	}
	for sender.Stats().Unconfirmed > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if s := sender.Stats(); s.Redelivered > 0 || s.Failed > 0 {
		b.Logf("redelivered %d, failed %d", s.Redelivered, s.Failed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	lat.mu.Lock()
	slices.Sort(lat.d)
	if len(lat.d) > 0 {
		b.ReportMetric(float64(lat.d[len(lat.d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat.d[len(lat.d)*99/100].Microseconds()), "p99-µs")
	}
	lat.mu.Unlock()
}
