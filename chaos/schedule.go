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
// frozen, cut off or degraded), drawn uniformly.
var holdRange = map[faultKind][2]time.Duration{
	faultKill:      {500 * time.Millisecond, 4 * time.Second},
	faultFreeze:    {500 * time.Millisecond, 5 * time.Second},
	faultPartition: {time.Second, 8 * time.Second},
	faultDegrade:   {2 * time.Second, 8 * time.Second},
	faultReload:    {0, 0},
	faultLameDuck:  {0, time.Second}, // after it exited, before the restart
}

// schedule is the seeded fault sequence: each kind comes once in every
// round of len(allFaults) faults, in a shuffled order, so a short run sees
// every kind. The same seed gives the same sequence.
type schedule struct {
	rng *rand.Rand
	n   int
	bag []faultKind
}

func newSchedule(seed uint64, brokers int) *schedule {
	return &schedule{rng: rand.New(rand.NewPCG(seed, 0x6368616f73)), n: brokers}
}

func (s *schedule) next() fault {
	if len(s.bag) == 0 {
		s.bag = append([]faultKind(nil), allFaults...)
		s.rng.Shuffle(len(s.bag), func(i, j int) { s.bag[i], s.bag[j] = s.bag[j], s.bag[i] })
	}
	k := s.bag[0]
	s.bag = s.bag[1:]
	r := holdRange[k]
	hold := r[0]
	if r[1] > r[0] {
		hold += time.Duration(s.rng.Int64N(int64(r[1] - r[0])))
	}
	return fault{
		Kind:   k,
		Broker: s.rng.IntN(s.n),
		Hold:   hold.Round(time.Millisecond),
		Quiet:  (2*time.Second + time.Duration(s.rng.Int64N(int64(2*time.Second)))).Round(time.Millisecond),
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
		// grace 500 ms + window 2 s + the gossip leave (up to 2 s)
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
