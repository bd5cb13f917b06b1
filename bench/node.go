package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/murmurmq/murmur/node"
)

// ackedDirect measures the node SDK's acknowledged direct messaging, one
// sender to one receiver on one broker: throughput until every message is
// acked, and send-to-ack latency percentiles. The SDK is plain NATS, so it
// runs against nats-server too.
type ackedDirect struct {
	count int // messages at full scale
	size  int
}

// ackLatencies is a node.Metrics that keeps the ack latency samples.
type ackLatencies struct {
	node.NopMetrics
	mu sync.Mutex
	d  []time.Duration
}

func (l *ackLatencies) Observe(name string, d time.Duration) {
	if name == "ack_latency" {
		l.mu.Lock()
		l.d = append(l.d, d)
		l.mu.Unlock()
	}
}

func (w ackedDirect) run(ctx context.Context, env *Env, b *Broker) (Result, error) {
	n := env.scaled(w.count, 2_000)
	lat := &ackLatencies{}
	recv, err := node.Connect(ctx, node.Config{ID: "recv", Namespace: "bench", Servers: []string{b.URL}})
	if err != nil {
		return Result{}, fmt.Errorf("receiver: %w", err)
	}
	defer recv.Close()
	send, err := node.Connect(ctx, node.Config{ID: "send", Namespace: "bench", Servers: []string{b.URL}, Metrics: lat})
	if err != nil {
		return Result{}, fmt.Errorf("sender: %w", err)
	}
	defer send.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	got := 0
	go func() { // the application: take every message (the SDK acks it)
		defer wg.Done()
		for range recv.Messages() {
			if got++; got == n {
				return
			}
		}
	}()
	payload := make([]byte, w.size)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := send.Direct(ctx, "recv", payload); err != nil {
			return Result{}, fmt.Errorf("direct %d: %w", i, err)
		}
		if i > 0 && i%(n/4) == 0 {
			env.Progress("%d/%d sent", i, n)
		}
	}
	for send.Stats().Unconfirmed > 0 {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("%d messages never acked", send.Stats().Unconfirmed)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	wg.Wait()
	lat.mu.Lock()
	d := slices.Clone(lat.d)
	lat.mu.Unlock()
	slices.Sort(d)
	r := Result{Value: float64(n) / elapsed.Seconds()}
	if len(d) > 0 {
		r.P50, r.P99 = d[len(d)/2], d[len(d)*99/100]
	}
	if st := send.Stats(); st.Failed > 0 || st.AckReceived < uint64(n) {
		r.Note = fmt.Sprintf("%d failed, %d acks for %d sent", st.Failed, st.AckReceived, n)
	}
	return r, nil
}

// ackedOverRaw runs the raw 1→1 flow and then acked direct messaging on the
// same broker and reports acked ÷ raw, both from one run.
func ackedOverRaw(raw flow, acked ackedDirect) func(context.Context, *Env) (Result, error) {
	return singleBroker(func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		r, err := raw.run(ctx, env, b)
		if err != nil {
			return Result{}, fmt.Errorf("raw: %w", err)
		}
		a, err := acked.run(ctx, env, b)
		if err != nil {
			return Result{}, fmt.Errorf("acked: %w", err)
		}
		env.Progress("raw %s, acked %s msgs/s", formatValue(r.Value, "msgs/s"), formatValue(a.Value, "msgs/s"))
		return Result{Value: a.Value / r.Value, Note: joinNotes(r.Note, a.Note)}, nil
	})
}
