package jetstream

import (
	"sync"
	"sync/atomic"
)

// maxInboxBytes bounds what publishers may queue for the engine (headers
// and payloads). A publisher that finds the inbox fuller waits until the
// engine has taken it, so a burst slows the publishing connections (TCP
// back-pressure) instead of growing the heap; nothing is dropped, and a
// message is only PubAck'd once the engine has stored it.
const maxInboxBytes = 32 << 20

// inbox is the engine's input queue: put runs on publishers' goroutines,
// take on the engine's, which gets everything queued at once. The bytes of
// a batch are copied into one arena (one allocation per batch, not two per
// message); a taken arena is never reused, so whatever the engine keeps of
// a message stays valid.
type inbox struct {
	mu      sync.Mutex
	taken   *sync.Cond // broadcast when take empties the queue, and at close
	msgs    []inMsg
	spare   []inMsg
	arena   []byte
	lastCap int
	max     int // maxInboxBytes (smaller in tests)
	closed  bool
	waiters int // publishers waiting in put (tests look)
	// self is set while the engine's goroutine publishes: a message it
	// publishes to its own subscriptions is queued without waiting, since
	// the goroutine that would empty the queue is the one calling put.
	self atomic.Int32
	wake chan struct{}
	// queued is set by a put and cleared by take: Engine.Flush reads it
	// without the lock (inline.go).
	queued atomic.Bool
}

func newInbox() *inbox {
	q := &inbox{wake: make(chan struct{}, 1), max: maxInboxBytes}
	q.taken = sync.NewCond(&q.mu)
	return q
}

// put queues one message, copying hdr and data, and wakes the engine. It
// waits while the inbox holds q.max bytes, unless the engine itself is
// publishing. After close it drops the message.
func (q *inbox) put(sub int, subject, reply string, hdr, data []byte) {
	q.add(sub, subject, reply, hdr, data, true)
}

// add is put; without wake the engine is not woken (the publisher calls
// Engine.Flush at the end of its batch instead, inline.go), except to
// empty a full inbox.
func (q *inbox) add(sub int, subject, reply string, hdr, data []byte, wake bool) {
	q.mu.Lock()
	for !q.closed && len(q.arena) >= q.max && q.self.Load() == 0 {
		q.signal()
		q.waiters++
		q.taken.Wait()
		q.waiters--
	}
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.arena == nil {
		q.arena = make([]byte, 0, max(q.lastCap, 4096))
	}
	m := inMsg{sub: sub, subject: subject, reply: reply}
	if len(hdr) > 0 {
		at := len(q.arena)
		q.arena = append(q.arena, hdr...)
		m.hdr = q.arena[at:len(q.arena):len(q.arena)]
	}
	if len(data) > 0 {
		at := len(q.arena)
		q.arena = append(q.arena, data...)
		m.data = q.arena[at:len(q.arena):len(q.arena)]
	}
	q.msgs = append(q.msgs, m)
	q.queued.Store(true)
	q.mu.Unlock()
	if wake {
		q.signal()
	}
}

// signal wakes the engine's goroutine without blocking.
func (q *inbox) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued. The slice is the engine's until its next
// take; the bytes are the engine's for good.
func (q *inbox) take() []inMsg {
	q.mu.Lock()
	got := q.msgs
	clear(q.spare)
	q.msgs, q.spare = q.spare[:0], got
	q.queued.Store(false)
	if q.arena != nil {
		q.lastCap = cap(q.arena)
		q.arena = nil
	}
	q.taken.Broadcast()
	q.mu.Unlock()
	return got
}

// close drops later puts and releases waiting publishers. It reports
// whether this call closed it.
func (q *inbox) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	q.taken.Broadcast()
	return true
}

// selfConn marks the engine's own publishes, so that the inbox never makes
// the engine's goroutine wait for itself.
type selfConn struct {
	Conn
	q *inbox
}

func (c selfConn) Publish(subject, deliverTo, reply string, hdr, data []byte) {
	c.q.self.Add(1)
	defer c.q.self.Add(-1)
	c.Conn.Publish(subject, deliverTo, reply, hdr, data)
}

// PublishEach publishes through the wrapped connection's batch when it has
// one.
func (c selfConn) PublishEach(n int, msg func(i int) (subject, deliverTo, reply string, hdr, data []byte)) {
	c.q.self.Add(1)
	defer c.q.self.Add(-1)
	if bc, ok := c.Conn.(BatchConn); ok {
		bc.PublishEach(n, msg)
		return
	}
	for i := range n {
		c.Conn.Publish(msg(i))
	}
}

// HasQueueInterest passes the wrapped connection's narrower interest check
// through (push.go's queueInterest), or falls back to HasInterest.
func (c selfConn) HasQueueInterest(subject, queue string) bool {
	if q, ok := c.Conn.(queueInterest); ok {
		return q.HasQueueInterest(subject, queue)
	}
	return c.Conn.HasInterest(subject)
}

// isClosed reports whether close was called.
func (q *inbox) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
