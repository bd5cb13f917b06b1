package jetstream

import (
	"slices"

	"github.com/murmurmq/murmur/jetstream/store"
)

// num_pending is how many stream messages a consumer has yet to send. It
// goes into every delivery's ack subject, and nats.go reads it there: a
// key-value watcher sends its "initial values done" marker when it
// reaches 0, so it must be exact, not an estimate.
//
// Counting means walking the stream from the consumer's next sequence,
// so the count is cached with the store's shape (first, last, count) it
// was made for: a delivery takes one off, appends are counted one by one,
// and anything else (a removal, a purge, a moved start) counts afresh.

// pendCache is a consumer's cached count of messages from NextSeq on.
type pendCache struct {
	valid             bool
	n                 uint64
	next              uint64 // the NextSeq it was counted from
	first, last, msgs uint64 // the store's state it was counted in
}

// numPending is the consumer's num_pending: the last_per_subject
// messages still to send and the matching messages from NextSeq on.
func (c *consumer) numPending() uint64 {
	c.refreshPending()
	return uint64(len(c.state.LastPer)) + c.pend.n
}

func (c *consumer) refreshPending() {
	st := c.stream.st.State()
	p := &c.pend
	same := p.valid && p.next == c.state.NextSeq && st.FirstSeq == p.first
	switch {
	case same && st.LastSeq == p.last && st.Msgs == p.msgs:
		return
	case same && st.LastSeq > p.last && st.Msgs >= p.msgs && st.Msgs-p.msgs == st.LastSeq-p.last:
		// Only appends since (each added one message and one sequence).
		p.n += c.countFrom(max(p.last+1, c.state.NextSeq))
	default:
		p.n = c.countFrom(c.state.NextSeq)
	}
	*p = pendCache{valid: true, n: p.n, next: c.state.NextSeq, first: st.FirstSeq, last: st.LastSeq, msgs: st.Msgs}
}

// countFrom counts the messages from seq on that the filters match.
func (c *consumer) countFrom(seq uint64) uint64 {
	var n uint64
	for {
		var best *store.Msg
		for _, f := range c.filters() {
			if m, err := c.stream.st.Next(seq, f); err == nil && (best == nil || m.Seq < best.Seq) {
				best = m
			}
		}
		if best == nil {
			return n
		}
		n++
		seq = best.Seq + 1
	}
}

// advance moves the consumer past new message seq, which nextMsg
// returned: the head of LastPer, or the first match from NextSeq.
func (c *consumer) advance(seq uint64) {
	c.state.Delivered.Stream = seq
	if len(c.state.LastPer) > 0 && c.state.LastPer[0] == seq {
		c.state.LastPer = c.state.LastPer[1:]
		return
	}
	if seq < c.state.NextSeq {
		return
	}
	c.refreshPending()
	c.state.NextSeq = seq + 1
	if c.pend.n > 0 {
		c.pend.n--
	}
	c.pend.next = c.state.NextSeq
}

// lastPerSubject lists, in stream order, the last message of every
// subject the filters match (deliver policy last_per_subject).
func (c *consumer) lastPerSubject() []uint64 {
	seen := map[uint64]bool{}
	var seqs []uint64
	for _, f := range c.filters() {
		for subj := range c.stream.st.Subjects(f) {
			if m, err := c.stream.st.Last(subj); err == nil && !seen[m.Seq] {
				seen[m.Seq] = true
				seqs = append(seqs, m.Seq)
			}
		}
	}
	slices.Sort(seqs)
	return seqs
}

// removedForPending keeps the consumers' counts through the removal of
// seq (a limit, an expiry, a message delete): one below a consumer's
// NextSeq, or any for a consumer of every subject, is accounted for
// without a recount.
func (s *stream) removedForPending(seq uint64) {
	first := s.st.State().FirstSeq
	for _, c := range s.consumers {
		p := &c.pend
		if !p.valid {
			continue
		}
		switch {
		case seq < c.state.NextSeq:
		case c.allSubjects():
			if seq <= p.last && p.n > 0 {
				p.n-- // counted, now gone
			}
		default:
			p.valid = false
			continue
		}
		p.msgs--
		p.first = first
	}
}

// purgedForPending makes every consumer count afresh after a purge.
func (s *stream) purgedForPending() {
	for _, c := range s.consumers {
		c.pend.valid = false
	}
}

// allSubjects reports whether the consumer's filters take every message
// of its stream: no filter, ">", or every stream subject among them.
func (c *consumer) allSubjects() bool {
	fs := c.filters()
	if slices.Contains(fs, "") || slices.Contains(fs, ">") {
		return true
	}
	for _, subj := range c.stream.cfg.Subjects {
		if !slices.Contains(fs, subj) {
			return false
		}
	}
	return len(c.stream.cfg.Subjects) > 0
}
