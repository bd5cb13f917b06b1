package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// print writes the report for a reader.
func (rep *report) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	p("chaos run: seed %d, %d brokers, %s, delay by %s", rep.Seed, rep.Brokers, ms(rep.Duration), rep.DelayMode)
	var kinds []string
	total := 0
	for _, k := range allFaults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, rep.Faults[k]))
		total += rep.Faults[k]
	}
	p("faults: %d (%s); quiet time %s", total, strings.Join(kinds, ", "), ms(rep.QuietTime))
	c := rep.Convergence
	p("convergence after heal: p50 %s, p99 %s, max %s, over 5 s: %d", ms(c.P50), ms(c.P99), ms(c.Max), c.Over5)
	n := rep.Node
	p("node SDK: %d directs, %d broadcasts; confirmed %d, failed (not acked, reported) %d, abandoned %d; handed over %d; delivered twice %d; confirmed but not received %d; broadcasts missed by a peer the sender saw leave %d; sends blocked %d",
		n.Directs, n.Broadcasts, n.Confirmed, n.FailedNotAcked, n.Abandoned, n.Received, n.DeliveredTwice, n.ConfirmedNotReceived, n.BroadcastPeerGone, n.Blocked)
	pl := rep.Plain
	p("plain: %d published (%d publish errors), %d expected deliveries; outside faults %d expected, %d lost; during faults %d expected, %d lost (%.2f %%); duplicates %d; reorders on a stable path %d, across faults %d",
		pl.Published, pl.PublishErrors, pl.Expected, pl.QuietExpected, pl.QuietLost, pl.FaultExpected, pl.FaultLost, 100*pl.FaultLossRate, pl.Duplicates, pl.QuietReorders, pl.FaultReorders)
	q := rep.Queue
	p("queue group: %d published, %d delivered; to two members %d; lost outside faults %d, during faults %d", q.Published, q.Delivered, q.Duplicates, q.QuietLost, q.FaultLost)
	rq := rep.Requests
	p("requests: %d sent (%d send errors); answered %d, answered twice %d, no responders %d, timed out %d; failed outside faults %d",
		rq.Sent, rq.SendErrors, rq.Answered, rq.AnsweredTwice, rq.NoResponders, rq.TimedOut, rq.QuietFailed)
	p("interest: final round %d sent, %d lost; probe rounds that lost messages with the mesh up: %d", rep.FinalRound.Sent, rep.FinalRound.Lost, rep.ProbeMiss)
	p("faults and convergence after heal, per kind:")
	p("  %-10s %6s %9s %9s %7s", "kind", "faults", "conv p50", "conv max", "over 5s")
	for _, k := range allFaults {
		cs := c.ByKind[k]
		p("  %-10s %6d %9s %9s %7d", k, rep.Faults[k], ms(cs.P50), ms(cs.Max), cs.Over5)
	}
	rep.printResources(p)
	if len(rep.Violations) == 0 {
		p("PASS: no invariant violated (replay with -seed %d)", rep.Seed)
		return
	}
	p("FAIL: %d violations (replay with -seed %d):", len(rep.Violations), rep.Seed)
	for _, v := range rep.Violations {
		p("  %s", v)
	}
}

// printResources writes the resource growth check: how many incarnations
// were checked, and per broker its longest-lived one's numbers.
func (rep *report) printResources(p func(string, ...any)) {
	grew := 0
	longest := map[string]resourceVerdict{}
	var names []string
	for _, v := range rep.Resources {
		if v.Grew != "" {
			grew++
		}
		l, ok := longest[v.Broker]
		if !ok {
			names = append(names, v.Broker)
		}
		if !ok || v.Lived > l.Lived {
			longest[v.Broker] = v
		}
	}
	sort.Strings(names)
	p("resources: %d broker incarnations checked (sampled at every convergence), %d grew; the longest-lived of each broker:", len(rep.Resources), grew)
	p("  %-6s %5s %7s %8s %-15s %-19s %s", "broker", "start", "samples", "lived", "goroutines", "rss MiB", "heap in use MiB")
	for _, n := range names {
		v := longest[n]
		p("  %-6s %5d %7d %8s %-15s %-19s %s", v.Broker, v.Start, v.Samples, v.Lived.Round(time.Second),
			fmt.Sprintf("%d→%d (≤%d)", v.GoroutinesFrom, v.GoroutinesTo, v.GoroutineBound),
			fmt.Sprintf("%.0f→%.0f (≤%.0f)", float64(v.RSSFrom)/(1<<20), float64(v.RSSTo)/(1<<20), float64(v.RSSBound)/(1<<20)),
			fmt.Sprintf("%.1f→%.1f", float64(v.HeapFrom)/(1<<20), float64(v.HeapTo)/(1<<20)))
	}
}
