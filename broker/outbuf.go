package broker

import (
	"time"
)

// chunkSize is the size of the pooled buffers outbound data is queued in
// (getChunk, putChunk: chunks_linux.go, chunks_other.go). A connection
// holds chunks only while it has data pending, so idle connections cost
// nothing, and a burst never regrows (and recopies) one big buffer: it adds
// chunks, written together with writev.
const chunkSize = 64 * 1024

// outbound is a connection's pending output, guarded by client.mu. The
// writer swaps the chunk list out and writes it without the lock, a few
// chunks per write, taking the lock between writes only to return the
// written chunks to the pool: producers and the writer contend for the
// swap and those short steps.
type outbound struct {
	bufs         [][]byte // pending chunks; only the last is appended to
	size         int      // bytes in bufs
	spare        [][]byte // the writer's previous list, reused
	inflight     int      // bytes the writer is writing now
	writing      bool     // the writer or an inline producer owns the socket's write side
	flushPending bool     // a wake-up is already owed to the writer
	closing      bool
	reason       CloseReason
	maxPending   int
	stall        chan struct{} // closed when pending falls below the stall mark
	progressAt   time.Time     // the current write's start, the last completed one, or the last new ack
	acked        uint64        // bytes the peer had acknowledged at progressAt (TCP)
	skipUntil    time.Time     // the peer looks stalled: nobody waits for it until then
	skipped      bool          // it was called stalled and has not progressed since
	stallFor     time.Duration // no progress for this long looks stalled (0: stallProgress)
	behindAt     time.Time     // when a producer last found it past the stall mark
	wake         chan struct{} // cap 1: wakes the writer
}

func (o *outbound) init(maxPending int) {
	o.maxPending = maxPending
	o.wake = make(chan struct{}, 1)
}

func (o *outbound) pending() int { return o.size + o.inflight }

// stallMark is the backlog past which producers wait for a reading peer.
func (o *outbound) stallMark() int { return o.maxPending / stallDen * stallNum }

// tail returns the last chunk when it has room for n more bytes, for a
// caller to append to and hand back with setTail; otherwise nil.
func (o *outbound) tail(n int) []byte {
	if len(o.bufs) > 0 {
		if b := o.bufs[len(o.bufs)-1]; cap(b)-len(b) >= n {
			return b
		}
	}
	if n <= chunkSize/2 {
		// Small: start a fresh chunk rather than split the message.
		o.bufs = append(o.bufs, getChunk())
		return o.bufs[len(o.bufs)-1]
	}
	return nil
}

// setTail stores the appended-to last chunk back. Should an append have
// outgrown the chunk (a caller's size estimate fell short), the data moved
// to the heap and the chunk goes back.
func (o *outbound) setTail(b []byte) {
	last := &o.bufs[len(o.bufs)-1]
	o.size += len(b) - len(*last)
	if cap(b) != cap(*last) {
		putChunk(*last)
	}
	*last = b
}

// drop returns the chunks still pending when the connection is gone.
func (o *outbound) drop() {
	for i, b := range o.bufs {
		putChunk(b)
		o.bufs[i] = nil
	}
	o.bufs, o.size = o.bufs[:0], 0
}

// write queues p, spanning as many chunks as it needs. The last chunk may
// be shorter than chunkSize: the unwritten rest of a chunk an inline write
// was cut short in (see client.Flush).
func (o *outbound) write(p []byte) {
	o.size += len(p)
	for len(p) > 0 {
		if len(o.bufs) == 0 || len(o.bufs[len(o.bufs)-1]) == cap(o.bufs[len(o.bufs)-1]) {
			o.bufs = append(o.bufs, getChunk())
		}
		last := &o.bufs[len(o.bufs)-1]
		n := copy((*last)[len(*last):cap(*last)], p)
		*last = (*last)[:len(*last)+n]
		p = p[n:]
	}
}

// take hands the pending chunks to the writer.
func (o *outbound) take() [][]byte {
	bufs := o.bufs
	o.bufs = o.spare[:0]
	o.spare = nil
	o.inflight = o.size
	o.size = 0
	return bufs
}

// written returns chunks the writer has written (or given up on) to the
// pool and takes them off the in-flight count. A write completed now is
// the peer's progress: producers may wait for it again.
func (o *outbound) written(bufs [][]byte, progress bool, now time.Time) {
	for i, b := range bufs {
		o.inflight -= len(b)
		putChunk(b)
		bufs[i] = nil
	}
	if progress {
		o.progressed(now)
	}
}

// progressed records the peer's progress at now. A peer called stalled that
// progresses was only slow: it gets twice the time before the next verdict.
func (o *outbound) progressed(now time.Time) {
	o.progressAt = now
	if o.skipped {
		o.skipped = false
		o.skipUntil = time.Time{}
		o.stallFor = min(2*o.stallAfter(), stallProgressMax)
	}
}

// stallAfter is how long without progress makes the peer look stalled.
func (o *outbound) stallAfter() time.Duration {
	if o.stallFor == 0 {
		return stallProgress
	}
	return o.stallFor
}

// release ends a write: everything taken is accounted for, and the list
// is kept for reuse.
func (o *outbound) release(bufs [][]byte) {
	o.inflight = 0
	o.spare = bufs[:0]
}
