package gossip

import (
	"fmt"
	"sync"
)

// EventType says what happened to a member.
type EventType uint8

// Membership event types.
const (
	// EventJoin: a member became alive (first seen, or back after being
	// dead or gone).
	EventJoin EventType = iota + 1
	// EventUpdate: an alive member changed its metadata.
	EventUpdate
	// EventLeave: a member left gracefully (Gossip.Leave).
	EventLeave
	// EventDead: a member stopped answering probes and was declared dead
	// (crash, network partition).
	EventDead
)

// String returns "join", "update", "leave" or "dead".
func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is one membership change. Events for the local node are not
// delivered. Per member, events arrive in the order memberlist produced
// them; only consecutive Updates of one member may be merged into the last.
type Event struct {
	Type   EventType
	Member Member
}

// eventQueue is an unbounded FIFO between memberlist's callbacks (which
// must never block) and the dispatcher goroutine. It coalesces: an Update
// for a member that still has an undelivered Update replaces it in place,
// so a member that changes its metadata in a loop costs one slot, and the
// queue can only grow with real joins and departures.
type eventQueue struct {
	mu      sync.Mutex
	items   []Event
	pending map[string]int // member name -> index of its queued Update
	closed  bool
	ready   chan struct{} // capacity 1: "items is not empty"
}

func newEventQueue() *eventQueue {
	return &eventQueue{pending: make(map[string]int), ready: make(chan struct{}, 1)}
}

// push adds ev; it never blocks. After close it drops ev.
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	name := ev.Member.Name
	if ev.Type == EventUpdate {
		if i, ok := q.pending[name]; ok {
			q.items[i] = ev
			q.mu.Unlock()
			return
		}
		q.pending[name] = len(q.items)
	} else {
		// A later Update must not jump over this event.
		delete(q.pending, name)
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes and returns everything queued.
func (q *eventQueue) take() []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	clear(q.pending)
	return items
}

// len returns the number of queued events.
func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// close makes later pushes no-ops.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
}

// dispatch moves events from q to out until done is closed, then closes
// out. It is the only goroutine that may block on the consumer.
func dispatch(q *eventQueue, out chan<- Event, done <-chan struct{}) {
	defer close(out)
	for {
		select {
		case <-q.ready:
		case <-done:
			return
		}
		for _, ev := range q.take() {
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
	}
}
