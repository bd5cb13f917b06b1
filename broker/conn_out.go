package broker

// The connection core's outbound path: the queue producers append to, the
// inline flush, back-pressure on producers, the writer and the teardown.

import (
	"errors"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/transport"
)

var (
	okLine   = []byte("+OK\r\n")
	pingLine = []byte("PING\r\n")
	pongLine = []byte("PONG\r\n")
	crlf     = []byte("\r\n")
)

const errMaxConns = proto.ErrTextMaxConns

func errLine(text string) []byte { return proto.ErrLine(text) }

// Back-pressure. Once a connection's pending output passes stallNum/stallDen
// of max_pending, each producer delivering to it waits, up to stallWait,
// for the backlog to shrink below that mark, but only while the peer is
// reading. Progress is a completed write (the writer writes
// writeSliceChunks chunks, 256 KB, at a time, and each completed write
// wakes the waiting producers) or, on TCP, bytes the peer acknowledged
// (checked every stallPoll while waiting). A peer with no progress for
// stallProgress while the writer is writing looks stalled: for stallRecheck
// nobody waits for it, then a producer looks again. A peer that progresses
// after such a verdict was only slow: its threshold doubles (up to
// stallProgressMax), so a jittery reader is soon paced as steadily as any,
// until it has not been behind for stallForget. A burst then paces its
// publisher to a subscriber that is merely behind, instead of dropping it,
// while a peer that stopped reading costs its producers stallProgress,
// once: its backlog grows to max_pending and it is closed as a slow
// consumer at once, and every other subscriber of the same publishers goes
// on at full speed. (nats-server stalls producers for any connection past
// the mark, so one stuck subscriber slows all the others until it is cut.)
const (
	stallNum, stallDen = 3, 4
	stallWait          = 5 * time.Millisecond
	stallProgress      = 2 * time.Millisecond
	stallProgressMax   = 64 * time.Millisecond
	stallForget        = 100 * time.Millisecond
	stallRecheck       = 5 * time.Millisecond
	stallPoll          = time.Millisecond
	writeSliceChunks   = 4
)

// Inline flushing: a producer that has just queued messages for a TCP (or
// QUIC) connection writes them itself when its writer is idle and
// little is pending, saving a goroutine hand-off per batch (nats-server's
// flushClients does the same). The write gets inlineDeadline; whatever it
// cannot write by then goes back to the writer, so a slow consumer stalls
// a producer for at most that long.
const (
	inlineMax      = 64 * 1024
	inlineDeadline = time.Millisecond
)

// resumableWriter is implemented by connections other than *net.TCPConn
// whose Write can be cut short by a deadline and simply continued later
// (a QUIC stream). TLS and compressed streams cannot: a timed-out write
// leaves them broken, so they never get inline writes.
type resumableWriter interface {
	net.Conn
	ResumableWrites() bool
}

// inlineConn returns conn when inline writes are safe on it.
func inlineConn(conn net.Conn) net.Conn {
	switch c := conn.(type) {
	case *net.TCPConn:
		return c
	case resumableWriter:
		if c.ResumableWrites() {
			return c
		}
	}
	return nil
}

// wakeWriter wakes the writer goroutine without blocking.
func (c *conn) wakeWriter() {
	select {
	case c.out.wake <- struct{}{}:
	default:
	}
}

// Flush implements mux.Conn: called by a producer once per batch, it writes
// the pending output inline when that is cheap, or wakes the writer.
func (c *conn) Flush() {
	conn := inlineConn(c.nc)
	c.mu.Lock()
	o := &c.out
	if conn == nil || o.writing || o.closing || o.size == 0 || o.size > inlineMax {
		c.mu.Unlock()
		c.wakeWriter()
		return
	}
	o.writing = true
	bufs := o.take()
	o.flushPending = false
	o.progressAt = time.Now()
	c.mu.Unlock()

	_ = conn.SetWriteDeadline(time.Now().Add(inlineDeadline))
	c.wbufs = append(c.wbufs[:0], bufs...)
	wb := net.Buffers(c.wbufs)
	n, err := transport.WriteBuffers(conn, &wb)
	var ne net.Error
	timedOut := err != nil && errors.As(err, &ne) && ne.Timeout()

	c.mu.Lock()
	if n > 0 {
		o.progressed(time.Now())
	}
	done := len(bufs)
	if timedOut && len(wb) > 0 {
		// Hand the unwritten rest back to the writer, ahead of newer data.
		done -= len(wb)
		rest := make([][]byte, 0, len(wb)+len(o.bufs))
		rest = append(append(rest, wb...), o.bufs...)
		for _, b := range wb {
			o.size += len(b)
		}
		o.bufs = rest
	}
	for i := range bufs[:done] {
		putChunk(bufs[i])
	}
	clear(bufs)
	clear(c.wbufs) // before writing=false: the next writer reuses it
	o.spare, o.inflight, o.writing = bufs[:0], 0, false
	if err != nil && !timedOut {
		c.markClosingLocked(WriteError)
	}
	c.openStallLocked()
	more := o.size > 0 || o.closing
	c.mu.Unlock()
	if more {
		c.wakeWriter()
	}
}

// enqueue appends protocol bytes (INFO, PONG, +OK, -ERR, PING) and wakes the
// writer now: these are answers the peer may be waiting for. They count
// against a client's max_pending like messages do (capProto), so a client
// that sends PINGs and never reads is closed as a slow consumer at the
// limit; a route queues them regardless.
func (c *conn) enqueue(b []byte) {
	if c.trace {
		c.traceOutLine(b)
	}
	c.mu.Lock()
	if c.out.closing || c.capProto && !c.admitLocked(len(b)) {
		c.mu.Unlock()
		return
	}
	c.out.write(b)
	c.out.flushPending = true
	c.mu.Unlock()
	c.wakeWriter()
}

func (c *conn) sendErr(text string) { c.enqueue(errLine(text)) }

// closeWithErr queues -ERR text and closes with reason in one hold of mu:
// the writer cannot send the line and fail on the peer's reset (a
// WriteError) before the reason is recorded.
func (c *conn) closeWithErr(text string, reason CloseReason) {
	if c.trace {
		c.traceOut("-ERR", []byte(text))
	}
	c.mu.Lock()
	if !c.out.closing {
		c.out.write(errLine(text))
		c.out.flushPending = true
	}
	first := c.markClosingLocked(reason)
	c.mu.Unlock()
	if first {
		c.wakeWriter()
	}
}

// admitLocked reports whether size more bytes may be queued; past
// max_pending the connection is closed as a slow consumer. Caller holds mu.
func (c *conn) admitLocked(size int) bool {
	o := &c.out
	if o.closing {
		return false
	}
	if o.pending()+size > o.maxPending {
		c.markClosingLocked(SlowConsumerPendingBytes)
		c.countSlowConsumer()
		c.log.Warn("slow consumer detected, closing", zap.String("reason", SlowConsumerPendingBytes.String()),
			zap.Int("max_pending", o.maxPending))
		c.wakeWriter()
		return false
	}
	return true
}

// appendedLocked finishes queueing a message of size bytes: it unlocks mu,
// counts the message, and holds the producer back while the connection is
// far behind and its peer is reading (see waitForPeer). It returns whether
// the writer needs a wake-up.
func (c *conn) appendedLocked(size int) (needFlush bool) {
	o := &c.out
	needFlush = !o.flushPending
	o.flushPending = true
	behind := o.pending() > o.stallMark()
	c.mu.Unlock()
	c.outMsgs.Add(1)
	c.outBytes.Add(int64(size))
	if behind {
		c.waitForPeer()
	}
	return needFlush
}

// waitForPeer waits, up to stallWait, for the backlog to fall below the
// stall mark, as long as the peer keeps reading: a completed write or more
// bytes acknowledged by the peer's TCP (peerAcked) is progress, and every
// completed write opens the gate. A peer with no progress for
// stallProgress while the writer is writing looks stalled: nobody waits
// for it for stallRecheck, then the next producer looks again.
func (c *conn) waitForPeer() {
	o := &c.out
	now := time.Now()
	c.mu.Lock()
	if now.Before(o.skipUntil) {
		c.mu.Unlock()
		return // looks stalled: not waited for until then
	}
	c.srv.stats.stalls.Add(1) // a producer held back (nats-server's stalled_clients)
	if now.Sub(o.behindAt) > stallForget {
		o.stallFor = 0 // long caught up: what it earned as a slow reader lapses
	}
	o.behindAt = now
	c.mu.Unlock()
	c.wakeWriter()
	giveUp := now.Add(stallWait)
	for {
		acked, ackKnown := peerAcked(c.nc)
		now = time.Now()
		c.mu.Lock()
		if o.pending() <= o.stallMark() || o.closing {
			c.mu.Unlock()
			return
		}
		if ackKnown && acked != o.acked {
			o.acked = acked
			o.progressed(now)
		}
		quiet := o.progressAt.Add(o.stallAfter())
		if !o.writing {
			// About to write (woken above): no verdict on the peer yet.
			quiet = now.Add(o.stallAfter())
		}
		if !now.Before(quiet) {
			o.skipUntil = now.Add(stallRecheck)
			o.skipped = true
			c.mu.Unlock()
			return
		}
		if !now.Before(giveUp) {
			c.mu.Unlock()
			return
		}
		if o.stall == nil {
			o.stall = make(chan struct{})
		}
		gate := o.stall
		c.mu.Unlock()
		until := min(quiet.Sub(now), giveUp.Sub(now), stallPoll)
		t := time.NewTimer(until)
		select {
		case <-gate:
		case <-t.C:
		}
		t.Stop()
	}
}

// slowConsumer closes a connection that cannot keep up, without an -ERR (as
// nats-server), and counts it.
func (c *conn) slowConsumer(reason CloseReason) {
	if c.markClosing(reason) {
		c.countSlowConsumer()
		c.log.Warn("slow consumer detected, closing", zap.String("reason", reason.String()),
			zap.Int("max_pending", c.srv.o().MaxPending))
		c.wakeWriter()
	}
}

// countSlowConsumer counts a slow consumer in the server's totals and, for
// a client, in its account's (routes are in no account's).
func (c *conn) countSlowConsumer() {
	c.srv.stats.slowConsumers.Add(1)
	switch p := c.proto.(type) {
	case *client:
		p.acc.Load().totals.slowConsumers.Add(1)
	case *route:
		c.srv.stats.slowRoutes.Add(1)
	case *leaf:
		c.srv.stats.slowLeafs.Add(1)
	}
}

// close starts closing the connection for reason; the writer flushes what
// the reason allows, closes the socket and tears the connection down.
func (c *conn) close(reason CloseReason) {
	if c.markClosing(reason) {
		c.wakeWriter()
	}
}

// markClosing records the first close reason; it reports whether this call
// was the first.
func (c *conn) closeReason() CloseReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.reason
}

func (c *conn) markClosing(reason CloseReason) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.markClosingLocked(reason)
}

func (c *conn) markClosingLocked(reason CloseReason) bool {
	if c.out.closing {
		return false
	}
	c.out.closing = true
	c.out.reason = reason
	c.closingNow.Store(true)
	if reason == SlowConsumerPendingBytes || reason == SlowConsumerWriteDeadline {
		// Nothing more is written: end a write blocked on the peer now,
		// so the connection goes at once, not at the write deadline.
		c.abortWrites.Store(true)
		_ = c.nc.SetWriteDeadline(time.Unix(1, 0))
	}
	if c.out.stall != nil {
		close(c.out.stall)
		c.out.stall = nil
	}
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	return true
}

// writeLoop writes coalesced output until the connection closes, then tears
// it down. It writes what it takes in slices of writeSliceChunks,
// so producers see the peer's progress (and a stall gate opens) as soon as
// the backlog shrinks, not only when all of it is written.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	for range c.out.wake {
		c.mu.Lock()
		o := &c.out
		if o.writing {
			// A producer is writing inline; it wakes us when it is done.
			c.mu.Unlock()
			continue
		}
		all := o.take()
		o.writing = true
		o.flushPending = false
		o.progressAt = time.Now()
		closing, reason := o.closing, o.reason
		c.mu.Unlock()

		// A few chunks per write, so that producers waiting on the stall
		// gate see the peer's progress often, however much is pending.
		slice := writeSliceChunks
		failed := false
		bufs := all
		for len(bufs) > 0 {
			part := bufs[:min(len(bufs), slice)]
			bufs = bufs[len(part):]
			// After a failed write nothing more is written: a timed-out
			// peer must not cost another write deadline per chunk.
			wrote := !failed && (!closing || reason.flushes())
			var err error
			if wrote {
				err = c.write(part) // started at progressAt: the take or the last chunk
			}
			c.mu.Lock()
			o.written(part, wrote && err == nil, time.Now())
			c.openStallLocked()
			if err != nil {
				// Closing now (write() marked it); what was queued after
				// the take is left to the next round, which sees closing
				// and writes it if the reason flushes.
				failed, closing, reason = true, true, o.reason
			}
			c.mu.Unlock()
		}

		c.mu.Lock()
		o.release(all)
		o.writing = false
		c.openStallLocked()
		c.mu.Unlock()
		if closing {
			break
		}
	}
	c.teardown()
}

// openStallLocked wakes the producers waiting on the stall gate after the
// writer's progress. Caller holds mu.
func (c *conn) openStallLocked() {
	o := &c.out
	if o.stall != nil {
		close(o.stall)
		o.stall = nil
	}
}

// write writes bufs (with writev where the connection supports it) under
// the write deadline, turning failures into a close with the right reason.
func (c *conn) write(bufs [][]byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.o().WriteDeadline))
	if c.abortWrites.Load() {
		// Closed as a slow consumer after the check that led here.
		_ = c.nc.SetWriteDeadline(time.Unix(1, 0))
	}
	// WriteTo consumes the net.Buffers it is called on, so give it a copy
	// of the list and keep the backing array for next time.
	c.wbufs = append(c.wbufs[:0], bufs...)
	wb := net.Buffers(c.wbufs)
	_, err := transport.WriteBuffers(c.nc, &wb)
	clear(c.wbufs)
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		c.slowConsumer(SlowConsumerWriteDeadline)
	} else {
		c.close(WriteError)
	}
	return err
}

// closeDrain bounds how long a closing connection that was sent a final
// -ERR keeps reading what its peer still sends before the socket closes.
const closeDrain = 100 * time.Millisecond

// teardown runs on the writer once closing: it closes the socket, waits for
// the reader to stop, and lets the connection type drop its subscriptions
// and unregister (protocol.closed).
//
// A socket closed while bytes the peer sent are still unread is reset, and
// the reset can destroy what was written last, such as the -ERR that says
// why. So when the close reason sent one (not a shutdown), the write side
// is shut first (FIN after the -ERR) and the reader discards what arrives
// until the peer closes too, for up to closeDrain.
func (c *conn) teardown() {
	if r := c.out.reason; r.flushes() && r != ServerShutdown && r != LameDuckMode {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.nc.SetReadDeadline(time.Now().Add(closeDrain))
			<-c.readerDone
		}
	}
	c.nc.Close()
	<-c.readerDone
	c.mu.Lock()
	c.out.drop()
	c.mu.Unlock()
	c.proto.closed()
	c.log.Debug("connection closed", zap.String("reason", c.out.reason.String()))
}
