package node

import (
	"container/heap"
	"time"
)

// tracker is the sender's unconfirmed set: every Data sent and not yet
// acked (by its target, or by every peer that was live when a broadcast was
// sent), ordered by when it is next due for redelivery. It is pure: the Node
// passes the time in and holds its lock around every call.
//
// First sends all wait the same ack timeout, so they become due in send
// order: they wait in a FIFO, where an ack costs nothing (the entry is
// skipped later). Only what is redelivered or rescheduled goes to a heap.
type tracker struct {
	items map[uint64]*pending
	fifo  []*pending // first sends, in deadline order; settled ones skipped lazily
	head  int        // first unread index in fifo
	due   dueHeap    // rescheduled items
	next  uint64     // next seq to assign
	floor uint64     // every seq below it is settled
	// pausedAt is when the connection to the broker was lost (zero while
	// connected). While paused nothing is due: a Data's clock, and with it
	// its give-up budget, runs only while a broker could deliver it.
	pausedAt time.Time
}

// pending is one unconfirmed Data.
type pending struct {
	seq     uint64
	kind    Kind
	to      string              // direct: the target
	waiting map[string]struct{} // broadcast: peers yet to ack
	payload []byte
	sent    time.Time // first send, for ack latency
	// attempts counts redeliveries so far.
	attempts int
	deadline time.Time
	dueAt    int64 // deadline in Unix nanoseconds: cheap heap comparisons
	index    int   // in due, or -1
	inFIFO   bool  // still waiting in fifo
	settled  bool  // removed from the set
	// receipt, when the sender asked for one, is settled with the outcome;
	// failed is the *SendError fail recorded for it.
	receipt *Receipt
	failed  error
}

func newTracker() *tracker {
	return &tracker{items: make(map[uint64]*pending), next: 1, floor: 1}
}

// assign returns the next seq.
func (t *tracker) assign() uint64 {
	s := t.next
	t.next++
	return s
}

// add tracks p until it is settled.
func (t *tracker) add(p *pending) {
	t.items[p.seq] = p
	p.dueAt = p.deadline.UnixNano()
	p.index = -1
	if n := len(t.fifo); n > t.head && p.dueAt < t.fifo[n-1].dueAt {
		heap.Push(&t.due, p) // out of order (a shorter timeout): keep the FIFO sorted
		return
	}
	p.inFIFO = true
	t.fifo = append(t.fifo, p)
}

// fifoFront drops settled or moved entries from the FIFO's front and
// returns the first live one (nil when none).
func (t *tracker) fifoFront() *pending {
	for t.head < len(t.fifo) {
		p := t.fifo[t.head]
		if p.inFIFO && !p.settled {
			return p
		}
		t.fifo[t.head] = nil
		t.head++
	}
	t.fifo, t.head = t.fifo[:0], 0
	return nil
}

// toHeap moves p from the FIFO to the heap (it is being rescheduled).
func (t *tracker) toHeap(p *pending) {
	p.inFIFO = false
	heap.Push(&t.due, p)
}

func (t *tracker) len() int { return len(t.items) }

// acked records that from acked seq and returns p when that settles it.
func (t *tracker) acked(seq uint64, from string) *pending {
	p := t.items[seq]
	if p == nil {
		return nil
	}
	switch p.kind {
	case KindDirect:
		if from != p.to {
			return nil
		}
	case KindBroadcast:
		delete(p.waiting, from)
		if len(p.waiting) > 0 {
			return nil
		}
	}
	t.remove(p)
	return p
}

// peerGone stops waiting for id on every broadcast and returns those this
// settles.
func (t *tracker) peerGone(id string) []*pending {
	var done []*pending
	for _, p := range t.items {
		if p.kind != KindBroadcast {
			continue
		}
		if _, ok := p.waiting[id]; ok {
			delete(p.waiting, id)
			if len(p.waiting) == 0 {
				done = append(done, p)
			}
		}
	}
	for _, p := range done {
		t.remove(p)
	}
	return done
}

// directsTo returns the directs whose target satisfies match (they stay
// tracked; the caller removes them).
func (t *tracker) directsTo(match func(to string) bool) []*pending {
	var out []*pending
	for _, p := range t.items {
		if p.kind == KindDirect && match(p.to) {
			out = append(out, p)
		}
	}
	return out
}

// remove settles p (acked, failed or abandoned).
func (t *tracker) remove(p *pending) {
	delete(t.items, p.seq)
	p.settled = true
	if p.index >= 0 {
		heap.Remove(&t.due, p.index)
	}
	if t.head > 1024 && t.head > len(t.fifo)/2 {
		// Compact: drop the consumed front.
		n := copy(t.fifo, t.fifo[t.head:])
		clear(t.fifo[n:])
		t.fifo, t.head = t.fifo[:n], 0
	}
}

// settledFloor advances and returns the floor: the lowest seq that may still
// be sent again. Amortized O(1): each seq is passed once.
func (t *tracker) settledFloor() uint64 {
	for t.floor < t.next {
		if _, ok := t.items[t.floor]; ok {
			break
		}
		t.floor++
	}
	return t.floor
}

// pause stops every Data's clock, at now: until resume nothing is due, so no
// redelivery is spent into a dead connection and none is given up because
// of time spent disconnected. Pausing again while paused keeps the first
// instant.
func (t *tracker) pause(now time.Time) {
	if t.pausedAt.IsZero() {
		t.pausedAt = now
	}
}

// paused reports whether the clocks are stopped.
func (t *tracker) paused() bool { return !t.pausedAt.IsZero() }

// resume restarts the clocks and returns how long they were stopped. Each
// deadline moves by the part of the pause the Data was tracked for, so a Data
// has again what it had left of its wait when the connection was lost, and
// one sent while disconnected starts its wait now. It is a no-op when not
// paused.
func (t *tracker) resume(now time.Time) time.Duration {
	if !t.paused() {
		return 0
	}
	stopped := now.Sub(t.pausedAt)
	for _, p := range t.items {
		from := t.pausedAt
		if p.sent.After(from) {
			from = p.sent
		}
		if d := now.Sub(from); d > 0 {
			p.deadline = p.deadline.Add(d)
			p.dueAt = p.deadline.UnixNano()
		}
	}
	// Data tracked before the pause all move by the same amount and those
	// added during it land at now plus their wait, no earlier than the
	// others, so the FIFO stays sorted; the heap is rebuilt.
	heap.Init(&t.due)
	t.pausedAt = time.Time{}
	return stopped
}

// nextDeadline is when the earliest item is due (ok false when none, or
// while paused).
func (t *tracker) nextDeadline() (time.Time, bool) {
	if t.paused() {
		return time.Time{}, false
	}
	f := t.fifoFront()
	switch {
	case f == nil && len(t.due) == 0:
		return time.Time{}, false
	case f == nil:
		return t.due[0].deadline, true
	case len(t.due) == 0 || f.dueAt <= t.due[0].dueAt:
		return f.deadline, true
	}
	return t.due[0].deadline, true
}

// popDue returns the items due at now, leaving them tracked; the caller
// reschedules or removes each. Nothing is due while paused. Due FIFO
// entries move to the heap first; in the heap it visits only due items and
// their direct children (a heap's subtree is no earlier than its root).
func (t *tracker) popDue(now time.Time, dst []*pending) []*pending {
	if t.paused() {
		return dst
	}
	for f := t.fifoFront(); f != nil && !f.deadline.After(now); f = t.fifoFront() {
		t.toHeap(f)
	}
	if len(t.due) == 0 {
		return dst
	}
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(t.due) || t.due[i].deadline.After(now) {
			continue
		}
		dst = append(dst, t.due[i])
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return dst
}

// reschedule moves p's deadline.
func (t *tracker) reschedule(p *pending, deadline time.Time) {
	p.deadline, p.dueAt = deadline, deadline.UnixNano()
	if p.index < 0 {
		t.toHeap(p)
		return
	}
	heap.Fix(&t.due, p.index)
}

// all returns every unconfirmed item.
func (t *tracker) all() []*pending {
	out := make([]*pending, 0, len(t.items))
	for _, p := range t.items {
		out = append(out, p)
	}
	return out
}

// dueHeap orders pending by deadline.
type dueHeap []*pending

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].dueAt < h[j].dueAt }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *dueHeap) Push(x any) {
	p := x.(*pending)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *dueHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.index = -1
	return p
}
