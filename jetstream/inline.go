package jetstream

import "time"

// Inline work: the publisher's goroutine runs the engine.
//
// Through Handle, a message waits in the inbox for the engine's goroutine
// to be woken and scheduled: one goroutine hand-off per batch of input,
// which for one synchronous publisher is one per message (its PUB, then
// the PubAck it waits for). A Conn that can tell the engine when a
// publisher's batch ends (broker.InternalClient.SetBatchHandler: the end
// of its read buffer) delivers through Queue and then calls Flush on the
// publisher's goroutine. Flush takes the engine's turn when it is free and
// does on that goroutine what the run goroutine would have done: apply
// everything queued, flush the stores, publish the answers. A synchronous
// publish is then stored and PubAck'd before its connection reads again,
// with no hand-off at all.
//
// Order and batching are those of the inbox: everything goes through it,
// and whoever holds the turn takes all of it. When the turn is held
// (by the run goroutine or another publisher) Flush wakes the run
// goroutine instead, which takes what is left once the turn is free, so no
// message waits for a later Flush. The write-ahead rule holds as before:
// the answers of a batch are published after its stores' Flush.

// Queue queues one message of subscription sub, as Handle does, without
// waking the engine: the caller promises a Flush at the end of its batch.
func (e *Engine) Queue(sub int, subject, reply string, hdr, data []byte) {
	sub, subject = e.fromDomain(sub, subject)
	e.in.add(sub, subject, reply, hdr, data, false)
}

// Flush does the queued work on the calling goroutine when the engine is
// free, else wakes the engine's goroutine. The caller holds no lock the
// engine's publishing may need (it is where a publisher flushes its
// output to other connections).
func (e *Engine) Flush() {
	if !e.in.queued.Load() {
		return
	}
	if !e.turn.TryLock() {
		e.in.signal()
		return
	}
	e.drain()
	e.emit()
	e.turn.Unlock()
}

// drain applies everything queued. The caller holds the turn; nothing is
// applied once the engine is closing.
func (e *Engine) drain() {
	if e.in.isClosed() {
		return
	}
	q := e.in.take()
	now := time.Now()
	for i := range q {
		m := &q[i]
		switch m.sub {
		case e.apiSub:
			e.handleAPI(m, now)
		case e.ackSub:
			e.handleAck(m, now)
		case e.fcSub:
			e.handleFlowControl(m, now)
		default:
			if s := e.bySub[m.sub]; s != nil {
				e.handlePublish(s, m, now)
			}
		}
	}
}
