package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Issue 18's first half: whether a subscription made on one broker of a
// cluster is known on the others once its Flush returns. Murmur holds the
// PONG until every route has applied the RS+ (broker/barrier.go);
// nats-server does not, so a message published elsewhere at once can be
// lost and a request can find "no responders".

// lateAfter is how long a round waits for its message or reply before
// counting it lost: on loopback a delivery takes well under a millisecond,
// so one this late was never routed (the subject had no interest there).
const lateAfter = 200 * time.Millisecond

// subThenPublish counts, of rounds, the messages lost when a subscriber on
// broker B subscribes to a fresh subject and flushes, and a publisher on
// broker A publishes at once.
type subThenPublish struct{ rounds int }

func (w subThenPublish) run(ctx context.Context, env *Env) (Result, error) {
	return clustered(ctx, env, 2, w.rounds, w.measure)
}

func (w subThenPublish) measure(conns []*nats.Conn, rounds int) (Result, error) {
	pub, sub := conns[0], conns[1]
	lost := 0
	for i := range rounds {
		subject := fmt.Sprintf("bench.barrier.%d", i)
		s, err := sub.SubscribeSync(subject)
		if err != nil {
			return Result{}, err
		}
		if err := sub.Flush(); err != nil {
			return Result{}, err
		}
		if err := pub.Publish(subject, nil); err != nil {
			return Result{}, err
		}
		if _, err := s.NextMsg(lateAfter); err != nil {
			lost++
		}
		if err := s.Unsubscribe(); err != nil {
			return Result{}, err
		}
	}
	return Result{Value: float64(lost), Info: fmt.Sprintf("%d of %d lost", lost, rounds)}, nil
}

// respondThenRequest counts, of rounds, the requests that fail when a
// responder on broker B subscribes to a fresh subject and flushes, and a
// requester on broker A sends a request at once.
type respondThenRequest struct{ rounds int }

func (w respondThenRequest) run(ctx context.Context, env *Env) (Result, error) {
	return clustered(ctx, env, 2, w.rounds, w.measure)
}

func (w respondThenRequest) measure(conns []*nats.Conn, rounds int) (Result, error) {
	req, resp := conns[0], conns[1]
	failed := 0
	var last error
	for i := range rounds {
		subject := fmt.Sprintf("bench.svc.%d", i)
		s, err := resp.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(nil) })
		if err != nil {
			return Result{}, err
		}
		if err := resp.Flush(); err != nil {
			return Result{}, err
		}
		if _, err := req.Request(subject, nil, lateAfter); err != nil {
			failed++
			last = err
		}
		if err := s.Unsubscribe(); err != nil {
			return Result{}, err
		}
	}
	r := Result{Value: float64(failed), Info: fmt.Sprintf("%d of %d failed", failed, rounds)}
	if last != nil {
		r.Info += fmt.Sprintf(" (last: %v)", last)
	}
	return r, nil
}

// flushAfterSub measures what the barrier costs: the time Subscribe +
// Flush takes on one broker of a 3-broker cluster (on nats-server, a
// PING/PONG with the local broker).
type flushAfterSub struct{ rounds int }

func (w flushAfterSub) run(ctx context.Context, env *Env) (Result, error) {
	return clustered(ctx, env, 3, w.rounds, w.measure)
}

func (w flushAfterSub) measure(conns []*nats.Conn, rounds int) (Result, error) {
	nc := conns[0]
	lat := make([]time.Duration, 0, rounds)
	for i := range rounds {
		t0 := time.Now()
		s, err := nc.SubscribeSync(fmt.Sprintf("bench.flush.%d", i))
		if err != nil {
			return Result{}, err
		}
		if err := nc.Flush(); err != nil {
			return Result{}, err
		}
		lat = append(lat, time.Since(t0))
		if err := s.Unsubscribe(); err != nil {
			return Result{}, err
		}
	}
	slices.Sort(lat)
	p50 := percentile(lat, 0.5)
	return Result{Value: float64(p50) / float64(time.Microsecond), P50: p50, P99: percentile(lat, 0.99)}, nil
}

// clustered starts an n-broker cluster of env's side, connects one client
// to each broker once the mesh carries messages, and runs measure with
// rounds scaled to the run.
func clustered(ctx context.Context, env *Env, n, rounds int, measure func([]*nats.Conn, int) (Result, error)) (Result, error) {
	bs, err := startCluster(ctx, env, n)
	if err != nil {
		return Result{}, err
	}
	conns, err := clusterConns(ctx, bs, &firstError{})
	if err != nil {
		return Result{}, withExits(err, bs)
	}
	defer closeAll(conns)
	r, err := measure(conns, env.scaled(rounds, 50))
	return r, withExits(err, bs)
}

// clusterConns connects one client to each broker and waits until the
// mesh carries messages between every pair (a message published on each
// reaches a subscriber on each other), so the rounds measure the
// subscription's propagation, not the cluster still forming.
func clusterConns(ctx context.Context, bs []*Broker, asyncErr *firstError) ([]*nats.Conn, error) {
	conns := make([]*nats.Conn, 0, len(bs))
	for _, b := range bs {
		nc, err := connect(b.URL, asyncErr)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, nc)
	}
	for j, sub := range conns {
		s, err := sub.SubscribeSync(fmt.Sprintf("bench.mesh.%d", j))
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		for i, pub := range conns {
			if i == j {
				continue
			}
			if err := awaitDelivery(ctx, pub, s); err != nil {
				closeAll(conns)
				return nil, fmt.Errorf("mesh %d → %d: %w", i, j, err)
			}
		}
		_ = s.Unsubscribe()
	}
	return conns, nil
}

// awaitDelivery publishes on pub to s's subject until s receives one.
func awaitDelivery(ctx context.Context, pub *nats.Conn, s *nats.Subscription) error {
	deadline := time.Now().Add(convergeTimeout)
	for time.Now().Before(deadline) {
		if err := pub.Publish(s.Subject, nil); err != nil {
			return err
		}
		if _, err := s.NextMsg(50 * time.Millisecond); err == nil {
			for {
				if _, err := s.NextMsg(20 * time.Millisecond); err != nil {
					return nil // drained the extra probes
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("no delivery within %v", convergeTimeout)
}

func closeAll(conns []*nats.Conn) {
	for _, nc := range conns {
		nc.Close()
	}
}
