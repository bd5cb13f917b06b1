package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// requestReply measures round trips of one synchronous requester against
// one responder, each on its own connection.
type requestReply struct {
	count int // requests at full scale
	size  int // request and reply payload bytes
	// respOpts and reqOpts log the responder and the requester in (say,
	// to different accounts); the responder listens on respSubject and
	// the requester asks on reqSubject (both default to bench.req).
	respOpts, reqOpts       []nats.Option
	respSubject, reqSubject string
}

func (w requestReply) run(ctx context.Context, env *Env, b *Broker) (Result, error) {
	n := env.scaled(w.count, 500)
	asyncErr := &firstError{}

	respSubject, reqSubject := w.respSubject, w.reqSubject
	if respSubject == "" {
		respSubject, reqSubject = "bench.req", "bench.req"
	}
	resp, err := connect(b.URL, asyncErr, w.respOpts...)
	if err != nil {
		return Result{}, err
	}
	defer resp.Close()
	sub, err := resp.Subscribe(respSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return Result{}, fmt.Errorf("responder subscribe: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return Result{}, err
	}
	if err := resp.Flush(); err != nil {
		return Result{}, err
	}

	req, err := connect(b.URL, asyncErr, w.reqOpts...)
	if err != nil {
		return Result{}, err
	}
	defer req.Close()
	payload := make([]byte, w.size)
	lat := make([]time.Duration, n)
	start := time.Now()
	nextReport := start.Add(2 * time.Second)
	for i := range lat {
		t0 := time.Now()
		if _, err := req.Request(reqSubject, payload, 5*time.Second); err != nil {
			return Result{}, fmt.Errorf("request %d of %d: %w (async: %v)", i+1, n, err, asyncErr.get())
		}
		t1 := time.Now()
		lat[i] = t1.Sub(t0)
		if t1.After(nextReport) {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			env.Progress("%d of %d requests", i+1, n)
			nextReport = t1.Add(2 * time.Second)
		}
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return Result{
		Value: float64(n) / elapsed.Seconds(),
		P50:   percentile(lat, 0.50),
		P99:   percentile(lat, 0.99),
	}, nil
}

// percentile returns the q-th quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
