package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// clusterName is the cluster name every bench cluster uses, on both sides.
const clusterName = "bench"

// convergeTimeout bounds the wait for a cluster to reach full interest.
const convergeTimeout = 60 * time.Second

// clusterPorts are the cluster addresses of one broker on 127.0.0.1: the
// route port (TCP), and for ours the gossip port (UDP and TCP).
type clusterPorts struct {
	route, gossip int
}

// newClusterPorts picks free ports for one broker of side.
func newClusterPorts(side string) (clusterPorts, error) {
	var p clusterPorts
	var err error
	if p.route, err = freePort(); err != nil {
		return p, err
	}
	if side == sideOurs {
		// The kernel may hand the port just closed out again: the gossip
		// port must differ from the route port it would collide with.
		for range 50 {
			if p.gossip, err = freeDualPort(); err != nil || p.gossip != p.route {
				break
			}
		}
	}
	return p, err
}

// clusterArgs returns the flags that put a broker of side into the bench
// cluster on self's ports, joining through seed (nil for the first broker).
// Ours finds its peers by gossip; nats-server by routes to the seed, whose
// route gossip then completes the mesh.
func clusterArgs(side string, self clusterPorts, seed *clusterPorts) []string {
	if side == sideOurs {
		args := []string{
			"--cluster", "127.0.0.1:" + strconv.Itoa(self.route),
			"--cluster_name", clusterName,
			"--gossip_addr", "127.0.0.1",
			"--gossip_port", strconv.Itoa(self.gossip),
		}
		if seed != nil {
			args = append(args, "--gossip_seeds", "127.0.0.1:"+strconv.Itoa(seed.gossip))
		}
		return args
	}
	args := []string{
		"--cluster", "nats://127.0.0.1:" + strconv.Itoa(self.route),
		"--cluster_name", clusterName,
	}
	if seed != nil {
		args = append(args, "--routes", "nats://127.0.0.1:"+strconv.Itoa(seed.route))
	}
	return args
}

// startCluster launches n brokers of env's side, one after another, each
// joining through the first. It returns once every broker accepts clients;
// the mesh and the interest may still be forming.
func startCluster(ctx context.Context, env *Env, n int) ([]*Broker, error) {
	if env.Side != sideOurs && env.Side != sideNATS {
		return nil, ErrNotApplicable
	}
	var seed *clusterPorts
	bs := make([]*Broker, 0, n)
	for i := range n {
		p, err := newClusterPorts(env.Side)
		if err != nil {
			return nil, err
		}
		b, err := env.Start(ctx, clusterArgs(env.Side, p, seed)...)
		if err != nil {
			return nil, fmt.Errorf("cluster broker %d of %d: %w", i+1, n, err)
		}
		bs = append(bs, b)
		if seed == nil {
			seed = &p
		}
	}
	return bs, nil
}

// withExits adds to err the log tail of every broker that has exited, so a
// crash in a cluster shows up as the cause.
func withExits(err error, bs []*Broker) error {
	if err == nil {
		return nil
	}
	for i, b := range bs {
		if exited, why := b.Exited(); exited {
			err = fmt.Errorf("%w; broker %d: %s", err, i+1, why)
		}
	}
	return err
}

// clusterFlow runs f with its publishers on the first broker of a two-broker
// cluster and its subscribers on the second, measuring only once interest
// has crossed the route.
func clusterFlow(f flow) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		bs, err := startCluster(ctx, env, 2)
		if err != nil {
			return Result{}, err
		}
		r, err := f.runOn(ctx, env, endpoints{pub: bs[0].URL, sub: bs[1].URL, probe: true})
		return r, withExits(err, bs)
	}
}

// convergence measures how long a cluster of brokers takes, from the moment
// the first is launched, until a subscriber on the last receives a message
// published on each of the others: the mesh is complete and the last
// broker's interest has reached every other broker. The brokers are
// launched one after another, so the time includes their start-up.
type convergence struct {
	brokers int
}

func (w convergence) run(ctx context.Context, env *Env) (Result, error) {
	t0 := time.Now()
	bs, err := startCluster(ctx, env, w.brokers)
	if err != nil {
		return Result{}, err
	}
	up := time.Since(t0)
	d, err := w.await(ctx, env, bs, t0)
	if err != nil {
		return Result{}, withExits(err, bs)
	}
	env.Progress("%d brokers accepting clients after %v, converged %v later",
		len(bs), up.Round(time.Millisecond), (d - up).Round(time.Millisecond))
	return Result{Value: d.Seconds()}, nil
}

// await subscribes on the last broker and keeps publishing on every other
// broker whose message has not arrived yet, every probeEvery, until all have.
func (w convergence) await(ctx context.Context, env *Env, bs []*Broker, t0 time.Time) (time.Duration, error) {
	asyncErr := &firstError{}
	others := len(bs) - 1
	arrived := make([]atomic.Bool, others)
	var remaining atomic.Int64
	remaining.Store(int64(others))
	var mu sync.Mutex
	var doneAt time.Time
	done := make(chan struct{})

	sc, err := connect(bs[others].URL, asyncErr)
	if err != nil {
		return 0, err
	}
	defer sc.Close()
	_, err = sc.Subscribe("bench.converge.*", func(m *nats.Msg) {
		i, err := strconv.Atoi(m.Subject[len("bench.converge."):])
		if err != nil || i < 0 || i >= others || arrived[i].Swap(true) {
			return
		}
		if remaining.Add(-1) == 0 {
			mu.Lock()
			doneAt = time.Now()
			mu.Unlock()
			close(done)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("subscribe on broker %d: %w", len(bs), err)
	}
	if err := sc.Flush(); err != nil {
		return 0, err
	}
	pubs := make([]*nats.Conn, others)
	for i := range pubs {
		if pubs[i], err = connect(bs[i].URL, asyncErr); err != nil {
			return 0, err
		}
		defer pubs[i].Close()
	}

	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	deadline := time.After(convergeTimeout)
	nextReport := time.Now().Add(2 * time.Second)
	for {
		for i, nc := range pubs {
			if !arrived[i].Load() {
				if err := nc.Publish("bench.converge."+strconv.Itoa(i), nil); err != nil {
					return 0, fmt.Errorf("publish on broker %d: %w", i+1, err)
				}
			}
		}
		select {
		case <-done:
			mu.Lock()
			defer mu.Unlock()
			return doneAt.Sub(t0), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-deadline:
			return 0, fmt.Errorf("after %v, %d of %d brokers' messages had not reached broker %d (async error: %v)",
				convergeTimeout, remaining.Load(), others, len(bs), asyncErr.get())
		case now := <-tick.C:
			if now.After(nextReport) {
				env.Progress("%d of %d brokers reach broker %d", others-int(remaining.Load()), others, len(bs))
				nextReport = now.Add(2 * time.Second)
			}
		}
	}
}
