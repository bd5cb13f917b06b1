package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// faultKind is one kind of fault the schedule injects.
type faultKind string

// The faults, in the order the report lists them.
const (
	faultKill      faultKind = "kill"      // SIGKILL, down a while, restart (same name, ports, config)
	faultFreeze    faultKind = "freeze"    // SIGSTOP, a while, SIGCONT
	faultPartition faultKind = "partition" // nft drops between the broker and the other brokers
	faultDegrade   faultKind = "degrade"   // 200 ms delay out, 5 % loss each way, on all its links
	faultReload    faultKind = "reload"    // a changed config file (max_payload) and SIGHUP
	faultLameDuck  faultKind = "lameduck"  // broker --signal ldm=<pid>; it exits; restart
)

var allFaults = []faultKind{faultKill, faultFreeze, faultPartition, faultDegrade, faultReload, faultLameDuck}

// fault is one scheduled fault: which, on which broker, held how long,
// and the quiet time after the cluster has converged again.
type fault struct {
	Kind   faultKind     `json:"kind"`
	Broker int           `json:"broker"`
	Hold   time.Duration `json:"hold"`
	Quiet  time.Duration `json:"quiet"`
}

// holdRange is how long each kind of fault lasts (the broker is down,
// frozen, cut off or degraded): short, drawn uniformly from [0] to [1],
// except one in longOdds drawn from [1] to [2]. Short faults keep a
// 10 minute run at the 50 of each kind the issue asks (a fault every
// 2 s, heal and convergence included); the long ones outlast the failure
// detectors (gossip suspicion, the clients' 3 missed pings of 1 s), so
// members are declared dead, clients fail over and nodes see peers leave.
var holdRange = map[faultKind][3]time.Duration{
	faultKill:      {150 * time.Millisecond, 500 * time.Millisecond, 4 * time.Second},
	faultFreeze:    {200 * time.Millisecond, 800 * time.Millisecond, 5 * time.Second},
	faultPartition: {300 * time.Millisecond, 900 * time.Millisecond, 8 * time.Second},
	faultDegrade:   {300 * time.Millisecond, 900 * time.Millisecond, 8 * time.Second},
	faultReload:    {0, 0, 0},
	faultLameDuck:  {0, 200 * time.Millisecond, time.Second}, // after it exited, before the restart
}

// longOdds: one fault in longOdds is held long.
const longOdds = 10

// Quiet times after convergence: short after most faults, long after
// every longEvery-th, so the run has stretches where the quiet-span
// invariants (nothing lost, no request unanswered, which needs its 2 s
// timeout inside the span) have room; a span starts at convergence and
// ends guard before the next fault, so a short quiet time adds none.
var (
	quietShort = [2]time.Duration{50 * time.Millisecond, 250 * time.Millisecond}
	quietLong  = [2]time.Duration{4 * time.Second, 5 * time.Second}
)

// longEvery: every third round of six ends with a long quiet time.
const longEvery = 3 * 6

// schedule is the seeded fault sequence: each kind comes once in every
// round of len(allFaults) faults, in a shuffled order, so a short run sees
// every kind. The same seed gives the same sequence.
//
// One broker, the keeper (drawn from the seed), is frozen, cut off,
// degraded and reloaded like the others but never killed or lame-ducked:
// its one process lives through the whole run, so the resource check has
// a series as long as the run (at a fault every ~2 s every other broker
// restarts every half minute or so).
type schedule struct {
	rng    *rand.Rand
	n      int
	keeper int
	bag    []faultKind
	drawn  int
}

func newSchedule(seed uint64, brokers int) *schedule {
	s := &schedule{rng: rand.New(rand.NewPCG(seed, 0x6368616f73)), n: brokers}
	s.keeper = s.rng.IntN(brokers)
	return s
}

// restarts reports whether a fault of kind k ends the broker's process.
func restarts(k faultKind) bool { return k == faultKill || k == faultLameDuck }

// between draws uniformly from [lo, hi).
func (s *schedule) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

func (s *schedule) next() fault {
	if len(s.bag) == 0 {
		s.bag = append([]faultKind(nil), allFaults...)
		s.rng.Shuffle(len(s.bag), func(i, j int) { s.bag[i], s.bag[j] = s.bag[j], s.bag[i] })
	}
	k := s.bag[0]
	s.bag = s.bag[1:]
	r := holdRange[k]
	hold := s.between(r[0], r[1])
	if s.rng.IntN(longOdds) == 0 {
		hold = s.between(r[1], r[2])
	}
	s.drawn++
	q := quietShort
	if s.drawn%longEvery == 0 {
		q = quietLong
	}
	b := s.rng.IntN(s.n)
	if restarts(k) && b == s.keeper && s.n > 1 {
		b = (b + 1 + s.rng.IntN(s.n-1)) % s.n
	}
	return fault{
		Kind:   k,
		Broker: b,
		Hold:   hold.Round(time.Millisecond),
		Quiet:  s.between(q[0], q[1]).Round(time.Millisecond),
	}
}

// window is one fault as it happened: from injection to the cluster
// having converged again. Times are offsets from the run's start.
type window struct {
	fault
	Start     time.Duration `json:"start"`
	Healed    time.Duration `json:"healed"`    // the fault removed (process back, link restored)
	Converged time.Duration `json:"converged"` // mesh, gossip, clients, nodes and interest all back
	Problem   string        `json:"problem,omitempty"`
}

// inject applies f and holds it, then removes it. It returns when the
// fault is healed (the broker runs again with its links restored); a
// problem is something the fault itself showed (a reload that did not
// take, a lame duck that did not exit).
func (r *runner) inject(ctx context.Context, f fault) (problem string, err error) {
	c, i := r.cluster, f.Broker
	hold := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.Hold):
			return nil
		}
	}
	switch f.Kind {
	case faultKill:
		c.kill(i)
		herr := hold()
		if err := c.start(ctx, i); err != nil {
			return "", err
		}
		return "", herr
	case faultFreeze:
		if err := c.signal(i, syscall.SIGSTOP); err != nil {
			return "", err
		}
		herr := hold()
		if err := c.signal(i, syscall.SIGCONT); err != nil {
			return "", err
		}
		return "", herr
	case faultPartition, faultDegrade:
		apply := r.net.Partition
		if f.Kind == faultDegrade {
			apply = r.net.Degrade
		}
		if err := apply(i); err != nil {
			return "", err
		}
		herr := hold()
		if err := r.net.Heal(i); err != nil {
			return "", err
		}
		return "", herr
	case faultReload:
		want, err := c.reload(i)
		if err != nil {
			return "", err
		}
		if err := c.waitMaxPayload(ctx, i, want, 5*time.Second); err != nil {
			return err.Error(), nil
		}
		return "", nil
	case faultLameDuck:
		if err := c.lameDuck(i); err != nil {
			return "", err
		}
		// grace 100 ms + window 500 ms + the gossip leave (up to 2 s)
		if !c.waitExit(i, 15*time.Second) {
			problem = fmt.Sprintf("%s did not exit within 15 s of lame-duck mode; killed", c.brokers[i].name)
			c.kill(i)
		}
		herr := hold()
		if err := c.start(ctx, i); err != nil {
			return problem, err
		}
		return problem, herr
	}
	return "", fmt.Errorf("unknown fault %q", f.Kind)
}
