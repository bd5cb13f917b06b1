package broker

import (
	"time"

	"go.uber.org/zap"
)

// The interest barrier: when a client's PONG for the PING after its SUB
// (or UNSUB) arrives, every broker this one has a live route to already
// knows the interest, so a message published there right after the
// client's Flush returns reaches it, and a request finds the responder
// that has just subscribed. nats-server gives no such promise (its users
// are told to sleep after subscribing; nats-server#2150, #1142).
//
// A SUB's RS+ is queued on every route as the SUB is processed. After it,
// the client's PING sends each route a PING of its own and waits, on the
// client's reader, for the routes' PONGs: a route's peer answers a PING
// only after it has applied every op sent before it, the RS+ included.
// Pings are counted per connection (conn.pingSeq, conn.pongSeq), so a
// keep-alive PING sent meanwhile is counted too: the peer answers in
// order, and a PONG count of n proves the n-th PING queued, or one after
// it, was answered. A route that closes is not waited for; one that
// comes up during the wait is (it got the full interest, the new
// subscription included, as it was registered, and is live when the PONG
// goes out). The wait
// is bounded by interestBarrierTimeout: a route that does not answer in
// time does not hold a client longer (the PONG goes out and the timeout
// is counted, Stats.InterestBarrierTimeouts). Clients that changed no
// subscription since their last PING, and brokers with no routes, answer
// at once. See docs/routes.md.
const interestBarrierTimeout = 2 * time.Second

// awaitRoutes is the barrier: it returns once every route has answered a
// PING queued now, or closed, or the timeout passed. A route that comes
// up while it waits (a replacement for one that closed, a peer that
// joined) got the full interest, the new subscription included, when it
// was registered; it is live when the client's PONG goes out, so it is
// waited for too: the routes are taken again after each wait until none
// is new.
func (s *Server) awaitRoutes() {
	var (
		waited  map[*route]bool
		timeout <-chan time.Time
	)
	for {
		s.mu.Lock()
		var routes []*route
		for _, r := range s.routes {
			if !waited[r] {
				routes = append(routes, r)
			}
		}
		s.mu.Unlock()
		if len(routes) == 0 {
			return
		}
		if waited == nil {
			waited = make(map[*route]bool, len(routes))
		}
		want := make([]uint64, len(routes))
		for i, r := range routes {
			want[i] = r.sendPing()
			waited[r] = true
		}
		for i, r := range routes {
			for r.pongSeq.Load() < want[i] {
				next := r.nextPong()
				if r.pongSeq.Load() >= want[i] {
					break
				}
				if timeout == nil {
					t := time.NewTimer(interestBarrierTimeout)
					defer t.Stop()
					timeout = t.C
				}
				select {
				case <-next:
				case <-r.readerDone:
					want[i] = 0 // closed: its interest is gone anyway
				case <-timeout:
					s.barrierTimedOut(r)
					return
				}
			}
		}
	}
}

// barrierTimedOut counts a barrier a route did not answer in time and
// logs it, at most once per barrierLogEvery.
func (s *Server) barrierTimedOut(r *route) {
	s.stats.barrierTimeouts.Add(1)
	now := time.Now().UnixNano()
	last := s.barrierLogAt.Load()
	if now-last < int64(barrierLogEvery) || !s.barrierLogAt.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("a route did not answer within the interest barrier's timeout; PONGs sent without it",
		zap.String("peer", r.peer.Name), zap.Duration("timeout", interestBarrierTimeout),
		zap.Int64("timeouts", s.stats.barrierTimeouts.Load()))
}

// barrierLogEvery spaces the barrier timeout warnings: a frozen route
// times out every client's Flush after a SUB, one line says it.
const barrierLogEvery = 10 * time.Second

// sendPing queues a PING and returns its number among the PINGs queued on
// this connection.
func (c *conn) sendPing() uint64 {
	n := c.pingSeq.Add(1)
	c.enqueue(pingLine)
	return n
}

// nextPong returns a channel closed at the next PONG.
func (c *conn) nextPong() <-chan struct{} {
	c.pongMu.Lock()
	defer c.pongMu.Unlock()
	if c.pongCh == nil {
		c.pongCh = make(chan struct{})
	}
	return c.pongCh
}

// ponged counts a PONG and wakes those waiting for it.
func (c *conn) ponged() uint64 {
	n := c.pongSeq.Add(1)
	c.pongMu.Lock()
	if c.pongCh != nil {
		close(c.pongCh)
		c.pongCh = nil
	}
	c.pongMu.Unlock()
	return n
}
