package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotApplicable is what a workload returns for a side that lacks the
// feature it measures (say QUIC on nats-server); the table shows "n/a".
var ErrNotApplicable = errors.New("not applicable")

// Workload is one row of the comparison. Adding a workload (say acked node
// messaging) means adding one entry to workloads(): Run gets an Env whose
// Start launches as many fresh brokers of the side under test as it needs,
// with whatever extra flags it needs (Env.Side tells which flag dialect to
// speak; startCluster and startQUIC speak them already), and returns
// ErrNotApplicable for a side that lacks the feature.
type Workload struct {
	// Name is the row label; it states sizes and counts at full scale.
	Name string
	// Unit is what Result.Value measures, e.g. "msgs/s" or "MiB".
	Unit string
	// LowerIsBetter marks costs (memory, latency) as opposed to rates.
	LowerIsBetter bool
	// Failures marks a count of failures (messages lost, requests
	// failed), where 0 is a real result and the best one.
	Failures bool
	// Latency marks workloads whose results carry p50 and p99.
	Latency bool
	// Sink also runs the workload against the byte sink, as a ceiling.
	Sink bool
	// Spread adds each side's lowest and highest run to its cell, for rows
	// whose value is itself a ratio of two measurements of one side (say
	// ours with 100 accounts ÷ ours with one), where the ratio column has
	// nothing to compare.
	Spread bool
	// Run performs one measurement. It must stop every goroutine and close
	// every connection it opened before returning; Env stops the brokers.
	Run func(ctx context.Context, env *Env) (Result, error)
}

// Env is what a workload run gets: the side under test and the run's scale.
type Env struct {
	// Side names the broker under test: "ours", "nats-server" or "sink".
	Side string
	// Scale multiplies message and connection counts (smoke runs use < 1).
	Scale float64
	// Progress reports on long runs; it is never nil.
	Progress func(format string, args ...any)

	launcher *Launcher
	brokers  []*Broker
}

// Start launches a fresh broker of the side under test on a free loopback
// port; the runner stops it after Run returns.
func (e *Env) Start(ctx context.Context, extraArgs ...string) (*Broker, error) {
	b, err := e.launcher.Start(ctx, extraArgs...)
	if err != nil {
		return nil, err
	}
	e.brokers = append(e.brokers, b)
	return b, nil
}

// scaled returns n multiplied by the run's scale, at least min.
func (e *Env) scaled(n, min int) int {
	s := int(float64(n) * e.Scale)
	if s < min {
		return min
	}
	return s
}

// stopAll stops every broker the run started, all at once (a clustered
// broker may take a while to leave), and returns the first error.
func (e *Env) stopAll() error {
	errs := make([]error, len(e.brokers))
	var wg sync.WaitGroup
	for i, b := range e.brokers {
		wg.Go(func() { errs[i] = b.Stop() })
	}
	wg.Wait()
	e.brokers = nil
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Result is one measurement of one side.
type Result struct {
	// Value is the headline number, in the workload's Unit.
	Value float64
	// P50 and P99 are latency percentiles, for Latency workloads.
	P50, P99 time.Duration
	// Note flags something a reader should know, e.g. lost messages; the
	// cell is marked (!).
	Note string
	// Info is context for the notes under the table (say when a slow
	// consumer was cut off); unlike Note it does not mark the cell.
	Info string
}

// singleBroker adapts a workload body that needs one broker.
func singleBroker(body func(ctx context.Context, env *Env, b *Broker) (Result, error)) func(context.Context, *Env) (Result, error) {
	return startedWith(nil, body)
}

// startedWith adapts a workload body that needs one broker started with
// extra arguments.
func startedWith(args []string, body func(ctx context.Context, env *Env, b *Broker) (Result, error)) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		b, err := env.Start(ctx, args...)
		if err != nil {
			return Result{}, err
		}
		r, err := body(ctx, env, b)
		if exited, why := b.Exited(); exited {
			return r, fmt.Errorf("%v (%s)", err, why)
		}
		return r, err
	}
}

// subjects returns n subjects "prefix.<i>.suffix".
func subjects(prefix, suffix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s.%d.%s", prefix, i, suffix)
	}
	return s
}

// workloads is the table of rows, in report order. Counts are for a full
// run; smoke runs scale them down.
func workloads() []Workload {
	const msgs = "msgs/s"
	nm := make([][]string, 4) // 4 publishers, each on its own subject
	nmSubs := make([]subSpec, 4)
	for i := range nm {
		subj := fmt.Sprintf("bench.nm.%d", i)
		nm[i], nmSubs[i] = []string{subj}, subSpec{subject: subj}
	}
	// The operator rows share one operator, account and set of users.
	operator := &operatorFixture{}
	return append([]Workload{
		{Name: "pub only, 16 B", Unit: msgs, Sink: true, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.pub"}}, size: 16, count: 10_000_000,
		}.run)},
		{Name: "1 pub → 1 sub, 128 B", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		}.run)},
		{Name: "1 pub → 5 subs, 128 B (per sub)", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(5, "bench.s", ""), size: 128, count: 1_000_000, fanout: 5, perSub: true,
		}.run)},
		{Name: "4 pubs → 4 subs, distinct subjects, 128 B", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: nm, subs: nmSubs, size: 128, count: 2_000_000, fanout: 1,
		}.run)},
		{Name: "1 pub → queue group of 4, 128 B", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.q"}}, subs: repeatSub(4, "bench.q", "workers"), size: 128, count: 2_000_000, fanout: 1,
		}.run)},
		{Name: "request/reply, sync, 128 B", Unit: "req/s", Latency: true, Run: singleBroker(requestReply{
			count: 20_000, size: 128,
		}.run)},
		{Name: "1 pub → 1 sub, 1 KB", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 1 << 10, count: 1_000_000, fanout: 1,
		}.run)},
		{Name: "1 pub → 1 sub, 64 KB", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 64 << 10, count: 20_000, fanout: 1,
		}.run)},
		{Name: "100k subjects → 2 wildcard subs, 128 B (per sub)", Unit: msgs, Run: singleBroker(flow{
			pubSubjects: [][]string{subjects("bench", "x", 100_000)},
			subs:        []subSpec{{subject: "bench.*.x"}, {subject: "bench.>"}},
			size:        128, count: 1_000_000, fanout: 2, perSub: true,
		}.run)},
		{Name: "leaf → hub, 1 pub → 1 sub, 128 B", Unit: msgs, Run: leafFlow(flow{
			pubSubjects: [][]string{{"bench.leaf"}}, subs: repeatSub(1, "bench.leaf", ""), size: 128, count: 2_000_000, fanout: 1,
		}, true)},
		{Name: "hub → leaf, 1 pub → 1 sub, 128 B", Unit: msgs, Run: leafFlow(flow{
			pubSubjects: [][]string{{"bench.leaf"}}, subs: repeatSub(1, "bench.leaf", ""), size: 128, count: 2_000_000, fanout: 1,
		}, false)},
		{Name: "leaf → hub, 1 pub → 1 sub, 1 KB, compression off", Unit: msgs, Run: leafFlowCompressed(flow{
			pubSubjects: [][]string{{"bench.leaf"}}, subs: repeatSub(1, "bench.leaf", ""), size: 1 << 10, count: 1_000_000, fanout: 1,
		}, true, "off")},
		{Name: "leaf → hub, 1 pub → 1 sub, 1 KB, compression s2_fast", Unit: msgs, Run: leafFlowCompressed(flow{
			pubSubjects: [][]string{{"bench.leaf"}}, subs: repeatSub(1, "bench.leaf", ""), size: 1 << 10, count: 1_000_000, fanout: 1,
		}, true, "s2_fast")},
		{Name: "leaf goodput through a lossy link (1 % loss, 25 ms each way), leaf → hub, 1 KB: QUIC ÷ TCP cubic, ours (goal ≥ 1.5)", Unit: "×", Spread: true, Run: lossyGoodput{
			size: 1 << 10, warm: 2 * time.Second, dur: 20 * time.Second,
		}.run},
		{Name: "leaf resume through the lossy link, TCP: hub SIGKILL → restarted → first message leaf → hub", Unit: "s", LowerIsBetter: true, Run: lossyResume{}.run},
		{Name: "leaf resume through the lossy link, QUIC: same", Unit: "s", LowerIsBetter: true, Run: lossyResume{overQUIC: true}.run},
		{Name: "cluster A→B, 128 B (pub on A, sub on B)", Unit: msgs, Run: clusterFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "sub then publish across 2 brokers: lost of 1,000 rounds (sub + Flush on B, publish on A at once)", Unit: "lost", LowerIsBetter: true, Failures: true, Run: subThenPublish{
			rounds: 1000,
		}.run},
		{Name: "respond then request across 2 brokers: failed of 1,000 rounds (responder sub + Flush on B, request on A at once)", Unit: "failed", LowerIsBetter: true, Failures: true, Run: respondThenRequest{
			rounds: 1000,
		}.run},
		{Name: "Flush after SUB, 3-broker cluster (Subscribe + Flush, 1,000 sequential)", Unit: "µs", LowerIsBetter: true, Latency: true, Run: flushAfterSub{
			rounds: 1000,
		}.run},
		{Name: "10-broker convergence (first start → full mesh with interest)", Unit: "s", LowerIsBetter: true, Run: convergence{
			brokers: 10,
		}.run},
		{Name: "QUIC 1 pub → 1 sub, 128 B", Unit: msgs, Run: quicFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "QUIC ÷ our TCP, 1 pub → 1 sub, 128 B, same broker", Unit: "×", Run: quicOverTCP(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "WebSocket 1 pub → 1 sub, 128 B", Unit: msgs, Run: wsFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 1_000_000, fanout: 1,
		}, false)},
		{Name: "WebSocket 1 pub → 1 sub, 1 KB", Unit: msgs, Run: wsFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 1 << 10, count: 500_000, fanout: 1,
		}, false)},
		{Name: "WebSocket deflate 1 pub → 1 sub, 128 B", Unit: msgs, Run: wsFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 500_000, fanout: 1,
		}, true)},
		{Name: "WebSocket deflate 1 pub → 1 sub, 1 KB", Unit: msgs, Run: wsFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 1 << 10, count: 200_000, fanout: 1,
		}, true)},
		{Name: "connect over TCP, dial → first PONG (200 sequential)", Unit: "µs", LowerIsBetter: true, Latency: true, Run: connectTime{
			count: 200,
		}.run},
		{Name: "connect over QUIC, dial → first PONG (200 sequential)", Unit: "µs", LowerIsBetter: true, Latency: true, Run: connectTime{
			count: 200, quic: true,
		}.run},
		{Name: "connect over WebSocket, dial → first PONG (200 sequential)", Unit: "µs", LowerIsBetter: true, Latency: true, Run: connectTime{
			count: 200, ws: true,
		}.run},
		{Name: "connect with creds (operator mode), dial → first PONG (200 sequential)", Unit: "µs", LowerIsBetter: true, Latency: true, Run: credsConnect{
			fixture: operator, count: 200,
		}.run},
		{Name: "10,000 user JWTs connecting in a burst, time to all connected", Unit: "s", LowerIsBetter: true, Run: jwtBurst{
			fixture: operator, users: 10_000, dialers: 200,
		}.run},
		{Name: "acked direct (node SDK) 1 → 1, 128 B, until all acked", Unit: msgs, Latency: true, Run: singleBroker(ackedDirect{
			count: 300_000, size: 128,
		}.run)},
		{Name: "acked ÷ raw 1 pub → 1 sub, 128 B, same broker", Unit: "×", Run: ackedOverRaw(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 1_000_000, fanout: 1,
		}, ackedDirect{count: 300_000, size: 128})},
		{Name: "slow-consumer isolation, max_pending 1 MiB: 1 pub → 3 subs, 1 stops reading, 1 KB (per-sub rate of the others, stalled ÷ before)", Unit: "share", Run: slowConsumer{
			size: 1 << 10, healthy: 2, period: 500 * time.Millisecond, maxPending: 1 << 20, window: 512, episodes: 8,
		}.run},
		{Name: "slow-consumer isolation, max_pending 64 MiB (default): same", Unit: "share", Run: slowConsumer{
			size: 1 << 10, healthy: 2, period: time.Second, maxPending: 64 << 20, window: 512, episodes: 4,
		}.run},
		{Name: "stream import A → B, 1 pub → 1 sub, 128 B", Unit: msgs, Run: streamImportFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "service import B → A, request/reply, sync, 128 B", Unit: "req/s", Latency: true, Run: serviceImportRequests(requestReply{
			count: 20_000, size: 128,
		})},
		{Name: "1 pub → 1 sub through a mapping, 128 B (bench.* → mapped.{{wildcard(1)}})", Unit: msgs, Run: mappedFlow(flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "mapped.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "1 pub → 1 sub, 128 B, 100 accounts configured (pub and sub in the last)", Unit: msgs, Run: inManyAccounts(100, flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "100 accounts configured ÷ 1, ours, 1 pub → 1 sub, 128 B (goal 1.00: an account costs nothing per message)", Unit: "×", Spread: true, Run: accountsOverOne(100, flow{
			pubSubjects: [][]string{{"bench.s"}}, subs: repeatSub(1, "bench.s", ""), size: 128, count: 2_000_000, fanout: 1,
		})},
		{Name: "RSS, 10,000 idle connections", Unit: "MiB", LowerIsBetter: true, Run: singleBroker(idleConns{
			count: 10_000,
		}.run)},
		{Name: "RSS, 10,000 accounts of one user each", Unit: "MiB", LowerIsBetter: true, Run: manyAccounts{
			count: 10_000,
		}.run},
		{Name: "RSS, 1,000,000 subscriptions on 4 connections", Unit: "MiB", LowerIsBetter: true, Run: singleBroker(manySubs{
			conns: 4, count: 1_000_000,
		}.run)},
	}, jsWorkloads()...)
}

func repeatSub(n int, subject, queue string) []subSpec {
	s := make([]subSpec, n)
	for i := range s {
		s[i] = subSpec{subject: subject, queue: queue}
	}
	return s
}
