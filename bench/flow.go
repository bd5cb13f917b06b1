package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// subSpec is one subscriber: its own connection, one subscription.
type subSpec struct {
	subject string
	queue   string // empty for a plain subscription
}

// flow is a publish/subscribe throughput workload: publishers each send
// their share of a fixed count as fast as they can, cycling through their
// subjects, and subscribers count what arrives. With no subscribers it is
// pub-only, timed until a Flush on every publisher returns.
type flow struct {
	pubSubjects [][]string // one entry per publisher
	subs        []subSpec
	size        int  // payload bytes
	count       int  // messages over all publishers, at full scale
	fanout      int  // deliveries each published message should cause
	perSub      bool // report the rate per subscriber instead of the sum
}

// stallTimeout ends the wait for deliveries when nothing arrives for this
// long: the rest are taken as lost (e.g. dropped as a slow consumer).
const stallTimeout = 3 * time.Second

// counter is a per-subscriber delivery count, padded so subscribers on
// different cores do not share a cache line.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// endpoints says where a flow's clients connect: publishers to pub and
// subscribers to sub (two brokers of a cluster, or the same one), with extra
// nats.go options such as a QUIC dialer.
type endpoints struct {
	pub, sub string
	opts     []nats.Option
	// pubOpts and subOpts are added to opts for the publishers and the
	// subscribers (say, logins to different accounts).
	pubOpts, subOpts []nats.Option
	// probe makes the flow wait, before it measures, until an empty message
	// published on the first publisher's first subject has reached every
	// subscriber: across a cluster, subscribing on one broker does not mean
	// the others know of the interest yet.
	probe bool
}

// probeEvery is how often an unanswered probe is published again.
const probeEvery = 10 * time.Millisecond

// probeTimeout bounds the wait for interest to cross a cluster.
const probeTimeout = 30 * time.Second

// run measures the flow with every client on one broker.
func (f flow) run(ctx context.Context, env *Env, b *Broker) (Result, error) {
	return f.runOn(ctx, env, endpoints{pub: b.URL, sub: b.URL})
}

// runOn measures the flow with clients placed as ep says.
func (f flow) runOn(ctx context.Context, env *Env, ep endpoints) (Result, error) {
	pubs := len(f.pubSubjects)
	perPub := env.scaled(f.count, 1000*pubs) / pubs
	total := int64(perPub * pubs)
	expect := total * int64(f.fanout)
	asyncErr := &firstError{}

	counts := make([]counter, len(f.subs))
	probed := make([]atomic.Bool, len(f.subs))
	for i, s := range f.subs {
		nc, err := connect(ep.sub, asyncErr, append(slices.Clone(ep.opts), ep.subOpts...)...)
		if err != nil {
			return Result{}, err
		}
		defer nc.Close()
		c, seen := &counts[i], &probed[i]
		cb := func(*nats.Msg) { c.n.Add(1) }
		if ep.probe {
			// Probes are empty; measured messages never are (size > 0).
			cb = func(m *nats.Msg) {
				if len(m.Data) == 0 {
					seen.Store(true)
					return
				}
				c.n.Add(1)
			}
		}
		var sub *nats.Subscription
		if s.queue != "" {
			sub, err = nc.QueueSubscribe(s.subject, s.queue, cb)
		} else {
			sub, err = nc.Subscribe(s.subject, cb)
		}
		if err != nil {
			return Result{}, fmt.Errorf("subscribe %s: %w", s.subject, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return Result{}, err
		}
		// A round trip guarantees the broker registered the subscription.
		if err := nc.Flush(); err != nil {
			return Result{}, fmt.Errorf("flush after subscribe: %w", err)
		}
	}
	pubConns := make([]*nats.Conn, pubs)
	for i := range pubConns {
		nc, err := connect(ep.pub, asyncErr, append(slices.Clone(ep.opts), ep.pubOpts...)...)
		if err != nil {
			return Result{}, err
		}
		defer nc.Close()
		pubConns[i] = nc
	}
	if ep.probe && len(f.subs) > 0 {
		t0 := time.Now()
		if err := awaitProbes(ctx, pubConns[0], f.pubSubjects[0][0], probed); err != nil {
			return Result{}, err
		}
		env.Progress("interest reached the publisher's broker in %v", time.Since(t0).Round(time.Millisecond))
	}

	payload := make([]byte, f.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var wg sync.WaitGroup
	pubErrs := make([]error, pubs)
	var pubDone atomic.Int64 // unix nanos of the last publisher to finish
	start := time.Now()
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, subj := pubConns[p], f.pubSubjects[p]
			for i := range perPub {
				if i&4095 == 0 && ctx.Err() != nil {
					pubErrs[p] = ctx.Err()
					return
				}
				if err := nc.Publish(subj[i%len(subj)], payload); err != nil {
					pubErrs[p] = fmt.Errorf("publish: %w", err)
					return
				}
			}
			if err := nc.Flush(); err != nil {
				pubErrs[p] = fmt.Errorf("flush after publishing: %w", err)
				return
			}
			now := time.Now().UnixNano()
			for {
				old := pubDone.Load()
				if now <= old || pubDone.CompareAndSwap(old, now) {
					return
				}
			}
		}()
	}

	if len(f.subs) == 0 {
		wg.Wait()
		if err := errors.Join(pubErrs...); err != nil {
			return Result{}, err
		}
		elapsed := time.Duration(pubDone.Load() - start.UnixNano())
		return Result{Value: float64(total) / elapsed.Seconds()}, asyncErr.get()
	}

	got, last := waitDeliveries(ctx, env, counts, expect, start)
	wg.Wait()
	if err := errors.Join(pubErrs...); err != nil {
		return Result{}, err
	}
	elapsed := last.Sub(start)
	if got == 0 || elapsed <= 0 {
		return Result{}, fmt.Errorf("no deliveries (async error: %v)", asyncErr.get())
	}
	rate := float64(got) / elapsed.Seconds()
	if f.perSub {
		rate /= float64(len(f.subs))
	}
	r := Result{Value: rate}
	if got == expect && !f.queued() {
		// Plain subscribers here all match the same share of the traffic,
		// so a right total with uneven shares is a delivery bug.
		for i := range counts {
			if n := counts[i].n.Load(); n != expect/int64(len(counts)) {
				r.Note = fmt.Sprintf("subscriber %d got %d, want %d", i, n, expect/int64(len(counts)))
				break
			}
		}
	}
	if got > expect {
		r.Note = fmt.Sprintf("%d deliveries, want %d", got, expect)
	}
	if got < expect {
		r.Note = fmt.Sprintf("lost %d of %d", expect-got, expect)
		if err := asyncErr.get(); err != nil {
			r.Note += ": " + err.Error()
		}
	}
	return r, nil
}

// queued reports whether any subscriber is in a queue group, whose members
// share deliveries unevenly by design.
func (f flow) queued() bool {
	for _, s := range f.subs {
		if s.queue != "" {
			return true
		}
	}
	return false
}

// waitDeliveries polls the counters until expect deliveries arrived, none
// arrived for stallTimeout, or ctx ends. It returns the deliveries and the
// time the last of them was seen (to within the 1 ms poll).
func waitDeliveries(ctx context.Context, env *Env, counts []counter, expect int64, start time.Time) (int64, time.Time) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var got int64
	last, nextReport := start, start.Add(2*time.Second)
	for {
		select {
		case <-ctx.Done():
			return got, last
		case now := <-tick.C:
			var sum int64
			for i := range counts {
				sum += counts[i].n.Load()
			}
			if sum != got {
				got, last = sum, now
			}
			if got >= expect || now.Sub(last) > stallTimeout {
				return got, last
			}
			if now.After(nextReport) {
				env.Progress("received %d of %d (%.0f%%)", got, expect, 100*float64(got)/float64(expect))
				nextReport = now.Add(2 * time.Second)
			}
		}
	}
}

// awaitProbes publishes an empty message on subject through nc every
// probeEvery until every subscriber has seen one, ctx ends or probeTimeout
// passes.
func awaitProbes(ctx context.Context, nc *nats.Conn, subject string, seen []atomic.Bool) error {
	deadline := time.Now().Add(probeTimeout)
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		missing := 0
		for i := range seen {
			if !seen[i].Load() {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("interest on %s did not propagate within %v: %d of %d subscribers saw no probe",
				subject, probeTimeout, missing, len(seen))
		}
		if err := nc.Publish(subject, nil); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// connect opens a client connection tuned so the client is not the
// bottleneck and a broker failure surfaces instead of being retried; extra
// options come last and win.
func connect(url string, asyncErr *firstError, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{
		nats.Name("murmur-bench"),
		nats.NoReconnect(),
		nats.ReconnectBufSize(64 << 20),
		nats.FlusherTimeout(30 * time.Second),
		nats.Timeout(10 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr.set(err) }),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	return nc, nil
}

// firstError keeps the first asynchronous error reported by nats.go.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
