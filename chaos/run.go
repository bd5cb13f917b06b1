package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// config is one chaos run's settings.
type config struct {
	Duration time.Duration // faults are injected until this much time has passed
	Seed     uint64
	Brokers  int
	Rates    rates
	// ConvergeBound is the longest a heal may take to converge before it
	// counts as a violation.
	ConvergeBound time.Duration
	Root          string // module root, for building cmd/broker
	Dir           string // where configs and broker logs go ("" = a temp dir)
	Logf          func(string, ...any)
}

// guard is how long before a fault a message still counts as sent during
// it (it may be in flight when the fault strikes).
const guard = time.Second

// span is a quiet time: no fault, the cluster converged.
type span struct{ From, To time.Duration }

type runner struct {
	cfg     config
	net     *network
	cluster *cluster
	traffic *traffic
	nodes   *nodes
	start   time.Time

	windows     []window
	quiet       []span
	problems    []string // violations the run itself saw
	probeMisses int      // probe rounds that lost messages although mesh, clients and nodes looked converged
	finalRound  probeResult
	// incarnations holds every broker process's resource samples, one
	// series per start, taken at each convergence point.
	incarnations []*incarnation
}

func (r *runner) logf(format string, args ...any) { r.cfg.Logf(format, args...) }
func (r *runner) since() time.Duration            { return time.Since(r.start) }

// run carries out one chaos run and returns its report. An error means
// the harness could not run (no namespaces, a broker that would not
// start); violations are in the report.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := checkNetns(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "murmur-chaos-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r.logf("seed %d; %d brokers; faults for %v; logs in %s", cfg.Seed, cfg.Brokers, cfg.Duration, dir)
	bin, err := buildBroker(ctx, cfg.Root, dir)
	if err != nil {
		return nil, err
	}
	if r.net, err = newNetwork(cfg.Brokers, r.logf); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := r.net.close(); cerr != nil {
			r.logf("cleanup: %v", cerr)
		}
	}()
	r.logf("network: bridge %s, 10.77.%d.0/24, namespaces mchaos-%s-*, delay by %s", r.net.bridge(), r.net.subnet, r.net.id, r.net.DelayMode())
	if r.cluster, err = newCluster(r.net, bin, dir, r.logf); err != nil {
		return nil, err
	}
	defer r.cluster.stopAll()
	for i := range r.cluster.brokers {
		if err := r.cluster.start(ctx, i); err != nil {
			return nil, err
		}
	}
	if p := r.waitMesh(ctx, 30*time.Second); p != "" {
		return nil, fmt.Errorf("the cluster never formed: %s", p)
	}
	r.start = time.Now()
	if r.traffic, err = startTraffic(r.cluster, cfg.Rates, r.start, r.logf); err != nil {
		r.traffic.close()
		return nil, err
	}
	defer r.traffic.close()
	if r.nodes, err = startNodes(ctx, r.cluster, cfg.Rates, cfg.Seed, r.start, r.logf); err != nil {
		return nil, err
	}
	defer r.nodes.close()
	if _, p := r.converge(ctx, 30*time.Second); p != "" {
		return nil, fmt.Errorf("the cluster did not settle before the first fault: %s", p)
	}
	r.sampleResources()
	r.quiet = append(r.quiet, span{From: r.since()})

	sched := newSchedule(cfg.Seed, cfg.Brokers)
	r.logf("keeper: %s (never killed or lame-ducked)", r.cluster.brokers[sched.keeper].name)
	for r.since() < cfg.Duration && ctx.Err() == nil {
		f := sched.next()
		if err := r.fault(ctx, f); err != nil {
			if errors.Is(err, context.Canceled) {
				break
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.Quiet):
		}
	}
	return r.finish(ctx)
}

// fault injects f, heals it, waits for convergence and records it all.
func (r *runner) fault(ctx context.Context, f fault) error {
	w := window{fault: f, Start: r.since()}
	r.quiet[len(r.quiet)-1].To = w.Start - guard
	r.logf("fault %d: %s %s for %v", len(r.windows)+1, f.Kind, r.cluster.brokers[f.Broker].name, f.Hold)
	problem, err := r.inject(ctx, f)
	if err != nil {
		return fmt.Errorf("fault %s on %s: %w", f.Kind, r.cluster.brokers[f.Broker].name, err)
	}
	w.Healed = r.since()
	took, p := r.converge(ctx, max(2*r.cfg.ConvergeBound, 60*time.Second))
	w.Converged = r.since()
	switch {
	case p != "":
		w.Problem = "did not converge: " + p
	case took > r.cfg.ConvergeBound:
		w.Problem = fmt.Sprintf("converged in %v, over the %v bound", took.Round(time.Millisecond), r.cfg.ConvergeBound)
	case problem != "":
		w.Problem = problem
	}
	if problem != "" && w.Problem != problem {
		w.Problem += "; " + problem
	}
	if w.Problem != "" {
		r.problems = append(r.problems, fmt.Sprintf("fault %d (%s %s at %v): %s", len(r.windows)+1, f.Kind, r.cluster.brokers[f.Broker].name, w.Start.Round(time.Millisecond), w.Problem))
	}
	if p == "" {
		r.sampleResources()
	}
	r.logf("  healed, converged in %v", took.Round(time.Millisecond))
	r.windows = append(r.windows, w)
	r.quiet = append(r.quiet, span{From: w.Converged})
	return nil
}

// waitMesh waits for a full route mesh with every gossip member alive.
func (r *runner) waitMesh(ctx context.Context, d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		p := r.cluster.meshProblem()
		if p == "" || time.Now().After(deadline) || ctx.Err() != nil {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// converge waits until the cluster is whole again: a full route mesh and
// every gossip member alive on every broker, every client connected,
// every node seeing all others, every client flushed (so, with the
// interest barrier, its subscriptions known everywhere), and a probe round
// (a new subscription on each broker, flushed, gets a message published on
// every broker) that loses nothing. It returns how long that took, or what
// was still wrong when d passed.
func (r *runner) converge(ctx context.Context, d time.Duration) (time.Duration, string) {
	t0 := time.Now()
	deadline := t0.Add(d)
	problem := ""
	for round := 0; ; round++ {
		problem = r.cluster.meshProblem()
		if problem == "" {
			problem = r.traffic.connected()
		}
		if problem == "" {
			problem = r.nodes.peerProblem()
		}
		if problem == "" {
			if err := r.traffic.flush(time.Second); err != nil {
				problem = err.Error()
			}
		}
		if problem == "" {
			before := r.cluster.routeIDs()
			res := r.probe(fmt.Sprintf("c%d.%d", len(r.windows), round), 1)
			if res.lost == 0 && res.err == "" {
				return time.Since(t0), ""
			}
			problem = res.String()
			if res.err == "" {
				r.probeMisses++
				r.logf("  mesh, clients and nodes converged, but %s; retrying", problem)
				r.logProbeMiss(before)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(t0), problem
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logProbeMiss logs what may explain a probe round that lost messages
// with the mesh up: routes replaced since the mesh check (a route that
// came up after the probe's subscriptions were flushed learns their
// interest from the new route's full interest exchange, not through the
// barrier), and each broker's interest-barrier timeouts (a PONG sent
// before every route confirmed).
func (r *runner) logProbeMiss(before []string) {
	after := r.cluster.routeIDs()
	if gone, came := diff(before, after), diff(after, before); len(gone)+len(came) > 0 {
		r.logf("  routes replaced since the mesh check: gone [%s], new [%s]", strings.Join(gone, " "), strings.Join(came, " "))
	} else {
		r.logf("  no route replaced since the mesh check")
	}
	for _, b := range r.cluster.brokers {
		data, err := os.ReadFile(filepath.Join(r.cluster.dir, b.name+".log"))
		if n := strings.Count(string(data), "interest barrier's timeout"); err == nil && n > 0 {
			r.logf("  %s: %d interest barrier timeouts logged so far", b.name, n)
		}
	}
}

// diff lists what is in a and not in b.
func diff(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

// probeResult is one probe round: per (subscriber broker, publisher
// broker) pair, msgs messages.
type probeResult struct {
	sent, lost int
	missing    []string
	err        string
}

func (p probeResult) String() string {
	if p.err != "" {
		return "probe: " + p.err
	}
	return fmt.Sprintf("probe lost %d of %d (%s)", p.lost, p.sent, strings.Join(p.missing, ", "))
}

// probe subscribes a fresh subject on every broker, flushes, and publishes
// msgs messages to each from every broker (itself included).
func (r *runner) probe(tag string, msgs int) probeResult {
	n := len(r.cluster.brokers)
	conns := make([]*nats.Conn, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	subs := make([]*nats.Subscription, n)
	for i := range conns {
		nc, err := nats.Connect(r.cluster.URL(i), nats.NoReconnect(), nats.Timeout(time.Second), nats.Name("probe"))
		if err != nil {
			return probeResult{err: fmt.Sprintf("connect %s: %v", r.cluster.brokers[i].name, err)}
		}
		conns[i] = nc
		if subs[i], err = nc.SubscribeSync(fmt.Sprintf("chaos.probe.%s.%d", tag, i)); err != nil {
			return probeResult{err: err.Error()}
		}
		_ = subs[i].SetPendingLimits(-1, -1)
	}
	for i, nc := range conns {
		if err := nc.FlushTimeout(3 * time.Second); err != nil {
			return probeResult{err: fmt.Sprintf("flush on %s: %v", r.cluster.brokers[i].name, err)}
		}
	}
	res := probeResult{}
	for j, nc := range conns {
		for i := range conns {
			for k := 0; k < msgs; k++ {
				if err := nc.Publish(fmt.Sprintf("chaos.probe.%s.%d", tag, i), []byte(fmt.Sprint(j))); err != nil {
					return probeResult{err: err.Error()}
				}
				res.sent++
			}
		}
		if err := nc.FlushTimeout(3 * time.Second); err != nil {
			return probeResult{err: fmt.Sprintf("flush on %s: %v", r.cluster.brokers[j].name, err)}
		}
	}
	for i, s := range subs {
		from := make([]int, n)
		deadline := time.Now().Add(2 * time.Second)
		for got := 0; got < n*msgs && time.Now().Before(deadline); {
			m, err := s.NextMsg(time.Until(deadline))
			if err != nil {
				break
			}
			var j int
			if _, err := fmt.Sscan(string(m.Data), &j); err == nil && j >= 0 && j < n {
				from[j]++
				got++
			}
		}
		for j, c := range from {
			if c < msgs {
				res.lost += msgs - c
				res.missing = append(res.missing, fmt.Sprintf("%s->%s %d/%d", r.cluster.brokers[j].name, r.cluster.brokers[i].name, c, msgs))
			}
		}
	}
	return res
}

// finish ends the run: the last quiet span closes, traffic stops, the
// final interest round runs, everything in flight is waited for, the
// nodes settle and close, and the invariants are checked.
func (r *runner) finish(ctx context.Context) (*report, error) {
	end := r.since()
	r.quiet[len(r.quiet)-1].To = end
	r.logf("faults over after %v; stopping traffic", end.Round(time.Millisecond))
	r.traffic.halt()
	r.nodes.halt()
	if p := r.traffic.flush(5 * time.Second); p != nil {
		r.problems = append(r.problems, "final flush: "+p.Error())
	}
	r.finalRound = r.probe("final", 100)
	if r.finalRound.lost > 0 || r.finalRound.err != "" {
		r.problems = append(r.problems, "final interest round: "+r.finalRound.String())
	}
	r.traffic.waitDelivered(10 * time.Second)
	if left := r.nodes.settle(90 * time.Second); left != "" {
		r.problems = append(r.problems, "node messages still unconfirmed 90 s after the last fault: "+left)
	}
	r.sampleResources() // the end: quiet, everything delivered, clients still connected
	r.nodes.close()
	return r.check(), nil
}
