package jetstream

import (
	"github.com/murmurmq/murmur/pubsub"
)

// Retention other than limits, as nats-server 2.15:
//
//   - interest: a message is kept while some consumer still needs it (its
//     filter matches and it is not yet acknowledged, or not yet delivered).
//     A message published when no consumer's filter matches its subject
//     is not stored at all: it takes a sequence, which stays a gap (the
//     PubAck still names it). Deleting the last consumer purges the
//     stream; deleting one of several removes what only it needed.
//   - workqueue: a message is removed once its consumer acknowledges it.
//     Messages published before any consumer exists are kept. Each
//     subject has at most one consumer: filters may not overlap, only one
//     consumer may be unfiltered, and consumers must ack explicitly and
//     deliver all.
//
// Removal happens when an ack settles a message, and for interest
// streams at each tick for the head of the stream (which catches
// ack-none consumers); after a restart the whole stream is checked
// once, so a removal lost to a crash after its consumer's state was
// saved is done again.

// The consumer-create refusals of workqueue streams.
var (
	errConsumerWQPullAck       = apiErr(400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream")
	errConsumerWQExplicitAck   = apiErr(400, 10098, "workqueue stream requires explicit ack")
	errConsumerWQMultiUnfilter = apiErr(400, 10099, "multiple non-filtered consumers not allowed on workqueue stream")
	errConsumerWQNotUnique     = apiErr(400, 10100, "filtered consumer not unique on workqueue stream")
	errConsumerWQDeliverAll    = apiErr(400, 10101, "consumer must be deliver all on workqueue stream")
)

func (s *stream) retains() bool {
	return s.cfg.Retention == "interest" || s.cfg.Retention == "workqueue"
}

// filtered reports whether the consumer has a filter narrower than all.
func (c *consumer) filtered() bool {
	for _, f := range c.filters() {
		if !matchAny(f) {
			return true
		}
	}
	return false
}

// wants reports whether subject passes the consumer's filters.
func (c *consumer) wants(subject string) bool {
	for _, f := range c.filters() {
		if matchAny(f) || f == subject || pubsub.SubjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// needs is nats-server's needAck: whether the consumer still holds the
// message at seq (on subject) in the stream.
func (c *consumer) needs(seq uint64, subject string) bool {
	if !c.wants(subject) {
		return false
	}
	if c.state.Exhausted[seq] {
		return true // kept, as nats-server keeps what reached max_deliver
	}
	if seq <= c.state.AckFloor.Stream {
		return false
	}
	if c.cfg.AckPolicy != "explicit" || seq >= c.state.NextSeq {
		return true
	}
	_, ok := c.state.Pending[seq]
	return ok
}

// noInterest reports whether an interest stream drops a message on
// subject instead of storing it: no consumer's filter takes it.
func (s *stream) noInterest(subject string) bool {
	if s.cfg.Retention != "interest" {
		return false
	}
	for _, c := range s.consumers {
		if c.wants(subject) {
			return false
		}
	}
	return true
}

// unneeded reports whether the message at seq may go: no consumer
// needs it and, in a work queue, some consumer took it (a work queue
// keeps what no consumer's filter matches, for the next consumer).
func (s *stream) unneeded(seq uint64, subject string) bool {
	taken := s.cfg.Retention != "workqueue"
	for _, c := range s.consumers {
		if c.needs(seq, subject) {
			return false
		}
		taken = taken || c.wants(subject)
	}
	return taken
}

// retainCheck removes the messages with sequence in [from, to] that no
// consumer needs any more.
func (s *stream) retainCheck(from, to uint64, acct *accountUsage) {
	if !s.retains() || from > to {
		return
	}
	for seq := from; seq <= to; seq++ {
		m, err := s.st.Next(seq, "")
		if err != nil || m.Seq > to {
			return
		}
		seq = m.Seq
		if s.unneeded(seq, m.Subject) {
			s.remove(seq, acct)
		}
	}
}

// afterAck removes what an ack of seq settled: seq itself and what the
// ack floor passed (ack all). A late ack or term of an exhausted message
// settles it too.
func (s *stream) afterAck(c *consumer, seq, floorBefore uint64, kind string, acct *accountUsage) {
	if !s.retains() {
		return
	}
	if kind != "-NAK" && kind != "+WPI" && c.state.Exhausted[seq] {
		delete(c.state.Exhausted, seq)
		c.dirty = true
	}
	if floor := c.state.AckFloor.Stream; floor > floorBefore {
		s.retainCheck(floorBefore+1, floor, acct)
	}
	if seq > c.state.AckFloor.Stream {
		s.retainCheck(seq, seq, acct)
	}
}

// sweepHead removes messages from the front of an interest stream while
// no consumer needs them (nats-server's checkInterestState); a work
// queue removes only on acks.
func (s *stream) sweepHead(acct *accountUsage) {
	if !s.retains() {
		return
	}
	defer s.pruneExhausted()
	if s.cfg.Retention != "interest" || len(s.consumers) == 0 {
		return
	}
	for {
		st := s.st.State()
		if st.Msgs == 0 {
			return
		}
		m, err := s.st.Load(st.FirstSeq)
		if err != nil || !s.unneeded(m.Seq, m.Subject) {
			return
		}
		s.remove(m.Seq, acct)
	}
}

// recoverRetention checks a whole interest or workqueue stream once
// after a restart (or a change of retention).
func (s *stream) recoverRetention(acct *accountUsage) {
	if !s.retains() {
		return
	}
	if len(s.consumers) == 0 {
		return // as nats-server: nothing to measure interest against
	}
	st := s.st.State()
	s.retainCheck(st.FirstSeq, st.LastSeq, acct)
}

// afterConsumerDelete cleans up an interest stream when one of its
// consumers goes: with none left it is purged, else what only the
// deleted consumer needed is removed. Workqueue streams keep their
// messages for the next consumer.
func (s *stream) afterConsumerDelete(c *consumer, acct *accountUsage) {
	if s.cfg.Retention != "interest" {
		return
	}
	if len(s.consumers) == 0 {
		s.purge("", 0, 0, acct)
		return
	}
	st := s.st.State()
	s.retainCheck(max(c.state.AckFloor.Stream+1, st.FirstSeq), st.LastSeq, acct)
}

// checkWorkQueueConsumer refuses a consumer a workqueue stream cannot
// take, in nats-server's order: for a new consumer ack policy, deliver
// policy, then the uniqueness of its filters among the others.
func (s *stream) checkWorkQueueConsumer(name string, cfg *ConsumerConfig, exists bool) *APIError {
	if s.cfg.Retention != "workqueue" {
		return nil
	}
	if cfg.DeliverSubject == "" && cfg.AckPolicy == "none" {
		return errConsumerWQPullAck
	}
	filters := cfg.FilterSubjects
	if len(filters) == 0 && cfg.FilterSubject != "" {
		filters = []string{cfg.FilterSubject}
	}
	if !exists {
		if cfg.AckPolicy != "explicit" {
			return errConsumerWQExplicitAck
		}
		if cfg.DeliverPolicy != "all" {
			return errConsumerWQDeliverAll
		}
		others := 0
		for n := range s.consumers {
			if n != name {
				others++
			}
		}
		if others == 0 {
			return nil
		}
		if len(filters) == 0 {
			return errConsumerWQMultiUnfilter
		}
	}
	if !s.partitionUnique(name, filters) {
		return errConsumerWQNotUnique
	}
	return nil
}

// partitionUnique reports whether filters overlap no other consumer's.
func (s *stream) partitionUnique(name string, filters []string) bool {
	for n, o := range s.consumers {
		if n == name {
			continue
		}
		if !o.filtered() {
			return false
		}
		for _, f := range o.filters() {
			for _, g := range filters {
				if pubsub.SubjectsCollide(f, g) {
					return false
				}
			}
		}
	}
	return true
}

// afterConsumerUpdate removes from an interest stream what lost its
// interest when a consumer's filters changed.
func (s *stream) afterConsumerUpdate(acct *accountUsage) {
	if s.cfg.Retention == "interest" {
		s.recoverRetention(acct)
	}
}

// exhausted records that the message at seq reached max_deliver
// unacknowledged; only retention streams need to remember it.
func (c *consumer) exhausted(seq uint64) {
	if !c.stream.retains() || c.cfg.AckPolicy != "explicit" {
		return
	}
	if c.state.Exhausted == nil {
		c.state.Exhausted = map[uint64]bool{}
	}
	c.state.Exhausted[seq] = true
}

// pruneExhausted forgets exhausted messages the stream no longer holds.
func (s *stream) pruneExhausted() {
	first := s.st.State().FirstSeq
	for _, c := range s.consumers {
		for seq := range c.state.Exhausted {
			if seq < first {
				delete(c.state.Exhausted, seq)
				c.dirty = true
			}
		}
	}
}

// matchAny reports whether a consumer filter takes every subject.
func matchAny(f string) bool { return f == "" || f == ">" }
