package node

import (
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// redeliverLoop resends Data whose ack is overdue, reports those out of
// redeliveries, and after a reconnect resends everything unconfirmed. It is
// the only goroutine with a timer for the unconfirmed set.
func (n *Node) redeliverLoop() {
	defer n.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*pending
	for {
		n.mu.Lock()
		next, ok := n.tr.nextDeadline()
		n.mu.Unlock()
		wait := time.Hour
		if ok {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-n.kick:
		case <-n.done:
			return
		}
		if n.resendAll.Swap(false) {
			n.resendEverything()
		}
		due = n.redeliverDue(due[:0])
		clear(due)
	}
}

// resend is one publish decided under the lock and done outside it.
type resend struct {
	subject string
	msg     *nats.Msg
}

// redeliverDue handles every item due now.
func (n *Node) redeliverDue(due []*pending) []*pending {
	now := time.Now()
	connected := n.nc.IsConnected()
	limit := max(n.cfg.MaxRedeliveries, 0)
	var out []resend
	var failed []*pending
	n.mu.Lock()
	due = n.tr.popDue(now, due)
	floor := n.tr.settledFloor()
	for _, p := range due {
		switch {
		case !connected:
			// Attempts are spent only while a broker could deliver them;
			// the reconnect resends everything anyway.
			n.tr.reschedule(p, now.Add(n.cfg.AckTimeout))
		case p.attempts >= limit:
			n.tr.remove(p)
			failed = append(failed, p)
		default:
			p.attempts++
			n.tr.reschedule(p, now.Add(n.cfg.backoff(p.attempts)))
			out = n.appendResends(out, p, floor)
		}
	}
	left := n.tr.len()
	n.mu.Unlock()
	n.publishResends(out)
	for _, p := range failed {
		n.log.Debug("giving up", zap.Uint64("seq", p.seq), zap.Int("attempts", p.attempts+1))
		n.fail(p, ErrNotAcked)
	}
	if len(failed) > 0 {
		n.settled(failed, left, false)
	}
	return due
}

// resendEverything resends every unconfirmed Data (after a reconnect: what
// was in flight through the old broker may be gone). It does not spend
// redelivery attempts, and it does not shorten a wait: a Data keeps what it
// had left when the connection was lost (tracker.resume), and at least an
// AckTimeout for the copy sent now.
func (n *Node) resendEverything() {
	now := time.Now()
	n.mu.Lock()
	floor := n.tr.settledFloor()
	var out []resend
	for _, p := range n.tr.all() {
		n.tr.reschedule(p, later(p.deadline, now.Add(n.cfg.AckTimeout)))
		out = n.appendResends(out, p, floor)
	}
	n.mu.Unlock()
	n.publishResends(out)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// appendResends adds p's redelivery: to its target, or for a broadcast to
// each peer still missing (as a direct-subject message of kind broadcast).
// n.mu is held.
func (n *Node) appendResends(out []resend, p *pending, floor uint64) []resend {
	if p.kind == KindDirect {
		s := n.subj.direct(p.to)
		return append(out, resend{s, n.dataMsg(s, p, floor)})
	}
	for id := range p.waiting {
		s := n.subj.direct(id)
		out = append(out, resend{s, n.dataMsg(s, p, floor)})
	}
	return out
}

func (n *Node) publishResends(out []resend) {
	for _, r := range out {
		if err := n.nc.PublishMsg(r.msg); err != nil {
			n.log.Debug("redelivery publish failed", zap.String("subject", r.subject), zap.Error(err))
			continue
		}
		n.stats.add(&n.stats.redelivered, "redelivered", 1)
	}
}

// presenceLoop heartbeats and expires silent peers.
func (n *Node) presenceLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-n.done:
			return
		}
		n.announce(false)
		n.mu.Lock()
		for _, p := range n.peers.expire(time.Now()) {
			// expire already removed it; put it back so peerLeftLocked
			// emits and settles uniformly.
			n.peers.peers[p.ID] = &p
			n.peerLeftLocked(p.ID)
		}
		n.mu.Unlock()
	}
}
