package jetstream

import (
	"sort"
	"time"

	"github.com/murmurmq/murmur/jetstream/store"
)

// consumer is one consumer's state machine: what it delivered, what
// awaits an ack, what is due again, and the pull requests waiting (or,
// for a push consumer, its deliver subject's flow: push.go). Every method
// runs on the engine's goroutine.
type consumer struct {
	name    string
	stream  *stream
	cfg     ConsumerConfig
	created time.Time
	dir     string // "" when not persisted

	state   consumerState
	waiting []*pullWait
	active  time.Time // last pull request or ack (inactive threshold)
	dirty   bool

	conn   Conn        // for a push consumer's interest check
	push   *pushState  // push consumers only, made on first use (push.go)
	replay replayClock // replay_policy original (replay.go)
	// resumeAdvice: a pause advisory is due when the pause runs out.
	resumeAdvice bool
	pend         pendCache // num_pending (pending.go)
}

// consumerState is what survives a restart (state.json).
type consumerState struct {
	Delivered SequenceInfo        `json:"delivered"`
	AckFloor  SequenceInfo        `json:"ack_floor"`
	Pending   map[uint64]*pending `json:"pending,omitempty"` // by stream sequence
	Redeliver []uint64            `json:"redeliver,omitempty"`
	NextSeq   uint64              `json:"next_seq"` // next stream sequence to look at
	// LastPer is, for deliver policy last_per_subject, the sequences of
	// the last message per subject when the consumer was created, not yet
	// delivered; the consumer goes on past them as usual.
	LastPer []uint64 `json:"last_per,omitempty"`
	// Exhausted are messages delivered max_deliver times and never
	// acked: an interest stream keeps them (retention.go).
	Exhausted map[uint64]bool `json:"exhausted,omitempty"`
}

type pending struct {
	CSeq  uint64 `json:"cseq"`
	Count uint64 `json:"count"`          // deliveries so far
	Due   int64  `json:"due"`            // unix ns when it is redelivered; 0 when queued
	Sent  int64  `json:"sent,omitempty"` // unix ns of the last delivery (ack metric)
}

type pullWait struct {
	reply     string
	left      int
	maxBytes  int
	expires   time.Time // zero: none
	noWait    bool
	hb        time.Duration
	lastSent  time.Time
	delivered int
}

func (c *ConsumerConfig) defaults() {
	if c.DeliverPolicy == "" {
		c.DeliverPolicy = "all"
	}
	if c.AckPolicy == "" {
		c.AckPolicy = "explicit"
	}
	if c.ReplayPolicy == "" {
		c.ReplayPolicy = "instant"
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = -1
	}
	if c.MaxAckPending == 0 && c.AckPolicy != "none" {
		c.MaxAckPending = 1000
	}
	if c.MaxWaiting == 0 && c.DeliverSubject == "" {
		c.MaxWaiting = 512
	}
	if c.Durable == "" && c.InactiveThreshold == 0 {
		c.InactiveThreshold = 5 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
}

func (c *ConsumerConfig) check() *APIError {
	if c.Durable != "" && c.Name != "" && c.Durable != c.Name {
		return errConsumerNameMismatch
	}
	for _, n := range []string{c.Durable, c.Name} {
		if n == "" {
			continue
		}
		for _, r := range n {
			if r == '/' || r == '\\' {
				return errConsumerNameSep
			}
		}
		if !validName(n) && !nameTooLong(n) {
			return c.badName(n)
		}
	}
	if ae := c.checkSizes(); ae != nil {
		return ae
	}
	if c.FilterSubject != "" && len(c.FilterSubjects) > 0 {
		return errConsumerDupFilters
	}
	if ae := c.checkMode(); ae != nil {
		return ae
	}
	switch c.AckPolicy {
	case "none", "all", "explicit":
	default:
		return errConsumerCreate.with("err", "invalid ack policy")
	}
	switch c.DeliverPolicy {
	case "all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject":
	default:
		return errConsumerCreate.with("err", "invalid deliver policy")
	}
	if e := c.checkDeliverPolicy(); e != nil {
		return e
	}
	if c.MaxDeliver > 0 && len(c.BackOff) > 0 && c.MaxDeliver <= len(c.BackOff) {
		return errConsumerMaxDeliverBackoff
	}
	return nil
}

func (c *consumer) filters() []string {
	if len(c.cfg.FilterSubjects) > 0 {
		return c.cfg.FilterSubjects
	}
	return []string{c.cfg.FilterSubject}
}

// start sets the first stream sequence from the deliver policy.
func (c *consumer) start() {
	st := c.stream.st.State()
	next := st.FirstSeq
	switch c.cfg.DeliverPolicy {
	case "new":
		next = st.LastSeq + 1
	case "last":
		next = st.LastSeq + 1
		var best uint64
		for _, f := range c.filters() {
			if m, err := c.stream.st.Last(f); err == nil && m.Seq > best {
				best = m.Seq
			}
		}
		if best > 0 {
			next = best
		}
	case "last_per_subject":
		next = st.LastSeq + 1
		c.state.LastPer = c.lastPerSubject()
	case "by_start_sequence":
		next = c.cfg.OptStartSeq
	case "by_start_time":
		next = st.LastSeq + 1
		if c.cfg.OptStartTime != nil {
			at := c.cfg.OptStartTime.UnixNano()
			for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
				if m, err := c.stream.st.Load(seq); err == nil && m.Time >= at {
					next = seq
					break
				}
			}
		}
	}
	c.state.NextSeq = next
	if len(c.state.LastPer) > 0 {
		next = c.state.LastPer[0]
	}
	if next > 0 {
		c.state.AckFloor.Stream = next - 1
		c.state.Delivered.Stream = next - 1
	}
	c.state.Pending = map[uint64]*pending{}
}

// nextMsg finds the next new message for this consumer, or nil.
func (c *consumer) nextMsg() *store.Msg {
	for len(c.state.LastPer) > 0 {
		if m, err := c.stream.st.Load(c.state.LastPer[0]); err == nil {
			return m
		}
		c.state.LastPer = c.state.LastPer[1:] // removed since the start
	}
	var best *store.Msg
	for _, f := range c.filters() {
		m, err := c.stream.st.Next(c.state.NextSeq, f)
		if err == nil && (best == nil || m.Seq < best.Seq) {
			best = m
		}
	}
	return best
}

func (c *consumer) info(typ string) *ConsumerInfo {
	ci := &ConsumerInfo{
		Type: typ, Stream: c.stream.cfg.Name, Name: c.name, Created: c.created, Config: c.cfg,
		Delivered: c.state.Delivered, AckFloor: c.state.AckFloor,
		NumAckPending: len(c.state.Pending), NumWaiting: len(c.waiting),
		NumPending: c.numPending(), TS: time.Now().UTC(),
	}
	c.pushInfo(ci)
	c.pauseInfo(ci)
	for _, p := range c.state.Pending {
		if p.Count > 1 {
			ci.NumRedelivered++
		}
	}
	return ci
}

// output is one message the engine publishes after the store is flushed.
type output struct {
	subject, deliverTo, reply string
	hdr, data                 []byte
}

// deliver hands out messages to waiting pull requests while there are
// both, appending the deliveries to out.
func (c *consumer) deliver(now time.Time, out []output) []output {
	if c.cfg.DeliverSubject != "" {
		return c.deliverPush(now, out)
	}
	paced := false // replay original holds the next message back
	for len(c.waiting) > 0 && !c.paused(now) {
		if c.cfg.AckPolicy != "none" && c.cfg.MaxAckPending > 0 && c.unacked() >= c.cfg.MaxAckPending {
			break
		}
		m, redelivery := c.pick()
		if m == nil {
			break
		}
		if !c.replay.due(c, m, redelivery, now) {
			c.unpick(m, redelivery)
			paced = true
			break // tick delivers it when its time comes
		}
		w := c.waiting[0]
		if w.maxBytes > 0 && len(m.Hdr)+len(m.Data)+len(m.Subject) > w.maxBytes {
			out = append(out, output{subject: w.reply, hdr: statusMsg(409, "Message Size Exceeds MaxBytes")})
			c.waiting = c.waiting[1:]
			continue
		}
		reply, hdr, data := c.sent(m, redelivery, now)
		out = append(out, output{subject: m.Subject, deliverTo: w.reply, reply: reply, hdr: hdr, data: data})
		c.replay.sent(m, redelivery, now)
		w.left--
		w.delivered++
		w.lastSent = now
		if w.maxBytes > 0 {
			w.maxBytes -= len(m.Hdr) + len(m.Data) + len(m.Subject)
		}
		if w.left <= 0 {
			c.waiting = c.waiting[1:]
		}
	}
	// A no-wait request that found nothing more ends now; one that waits
	// for a paced message goes on waiting, as from nats-server.
	kept := c.waiting[:0]
	for _, w := range c.waiting {
		if w.noWait && !paced {
			if w.delivered == 0 {
				out = append(out, output{subject: w.reply, hdr: statusMsg(404, "No Messages")})
			} else {
				out = append(out, output{subject: w.reply, hdr: statusMsg(408, "Request Timeout", "Nats-Pending-Messages", itoa(w.left), "Nats-Pending-Bytes", itoa(w.maxBytes))})
			}
			continue
		}
		kept = append(kept, w)
	}
	c.waiting = kept
	return out
}

// sent records the delivery of m (a redelivery, or the next new
// message) and returns its ack reply subject and what goes out: the
// message's headers and data, or with headers_only its headers with
// Nats-Msg-Size and no data (nats-server's convertToHeadersOnly).
func (c *consumer) sent(m *store.Msg, redelivery bool, now time.Time) (reply string, hdr, data []byte) {
	p := c.state.Pending[m.Seq]
	if !redelivery || p == nil {
		c.advance(m.Seq)
		p = &pending{}
	}
	c.state.Delivered.Consumer++
	t := now.UTC()
	c.state.Delivered.Last = &t
	p.CSeq = c.state.Delivered.Consumer
	p.Count++
	p.Due = now.Add(c.ackWait(p.Count)).UnixNano()
	p.Sent = now.UnixNano()
	if c.cfg.AckPolicy == "none" {
		c.state.AckFloor = SequenceInfo{Consumer: p.CSeq, Stream: m.Seq, Last: &t}
	} else {
		c.state.Pending[m.Seq] = p
	}
	c.dirty = true
	reply = ackReply(c.stream.cfg.Name, c.name, p.Count, m.Seq, p.CSeq, m.Time, c.numPending())
	if c.cfg.HeadersOnly {
		return reply, appendHeaders(m.Hdr, "Nats-Msg-Size", itoa(len(m.Data))), nil
	}
	return reply, m.Hdr, m.Data
}

func (c *consumer) unacked() int { return len(c.state.Pending) }

// pick returns the next message to send: one due for redelivery first.
func (c *consumer) pick() (*store.Msg, bool) {
	for len(c.state.Redeliver) > 0 {
		seq := c.state.Redeliver[0]
		c.state.Redeliver = c.state.Redeliver[1:]
		if c.state.Pending[seq] == nil {
			continue
		}
		m, err := c.stream.st.Load(seq)
		if err != nil {
			delete(c.state.Pending, seq) // gone from the stream
			c.moveFloor()
			continue
		}
		return m, true
	}
	return c.nextMsg(), false
}

func (c *consumer) ackWait(count uint64) time.Duration {
	if n := len(c.cfg.BackOff); n > 0 {
		i := int(count) - 1
		if i >= n {
			i = n - 1
		}
		return c.cfg.BackOff[i]
	}
	return c.cfg.AckWait
}

// ack applies an ack subject's kind to stream sequence seq.
func (c *consumer) ack(seq uint64, kind string, delay time.Duration, now time.Time) {
	c.active = now
	p := c.state.Pending[seq]
	switch kind {
	case "+WPI":
		if p != nil {
			p.Due = now.Add(c.cfg.AckWait).UnixNano()
		}
		return
	case "-NAK":
		if p != nil {
			if delay > 0 {
				p.Due = now.Add(delay).UnixNano()
			} else {
				p.Due = 0
				c.state.Redeliver = append(c.state.Redeliver, seq)
			}
		}
		return
	}
	// +ACK, +TERM, +NXT and an empty body all settle the message.
	if c.cfg.AckPolicy == "all" {
		for s := range c.state.Pending {
			if s <= seq {
				delete(c.state.Pending, s)
			}
		}
	} else if p == nil {
		return
	}
	delete(c.state.Pending, seq)
	c.dirty = true
	c.moveFloor()
}

// moveFloor sets the ack floor below the oldest message awaiting an ack.
func (c *consumer) moveFloor() {
	t := time.Now().UTC()
	if len(c.state.Pending) == 0 {
		c.state.AckFloor = SequenceInfo{Consumer: c.state.Delivered.Consumer, Stream: c.state.Delivered.Stream, Last: &t}
		return
	}
	// Walk up from the old floor to the oldest message awaiting an ack:
	// the floor only rises, so over the consumer's life each sequence is
	// passed once and acks in order cost O(1), not a scan of Pending.
	for s := c.state.AckFloor.Stream + 1; s <= c.state.Delivered.Stream; s++ {
		if p := c.state.Pending[s]; p != nil {
			c.state.AckFloor = SequenceInfo{Consumer: p.CSeq - 1, Stream: s - 1, Last: &t}
			return
		}
	}
	var min uint64 // a pending sequence at or below the floor: scan
	for s := range c.state.Pending {
		if min == 0 || s < min {
			min = s
		}
	}
	c.state.AckFloor = SequenceInfo{Consumer: c.state.Pending[min].CSeq - 1, Stream: min - 1, Last: &t}
}

// tick queues due redeliveries, ends expired pull requests and sends
// idle heartbeats.
func (c *consumer) tick(now time.Time, out []output) []output {
	if c.cfg.DeliverSubject != "" {
		out = c.tickPush(now, out)
	}
	var due []uint64
	for seq, p := range c.state.Pending {
		if p.Due != 0 && p.Due <= now.UnixNano() {
			if c.cfg.MaxDeliver > 0 && p.Count >= uint64(c.cfg.MaxDeliver) {
				delete(c.state.Pending, seq) // delivered as often as allowed
				c.exhausted(seq)
				c.moveFloor()
				out = append(out, maxDeliverAdvisory(c, seq, p.Count))
				continue
			}
			p.Due = 0
			due = append(due, seq)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i] < due[j] })
	c.state.Redeliver = append(c.state.Redeliver, due...)
	kept := c.waiting[:0]
	for _, w := range c.waiting {
		if !w.expires.IsZero() && !now.Before(w.expires) {
			out = append(out, output{subject: w.reply, hdr: statusMsg(408, "Request Timeout", "Nats-Pending-Messages", itoa(w.left), "Nats-Pending-Bytes", itoa(w.maxBytes))})
			continue
		}
		if w.hb > 0 && now.Sub(w.lastSent) >= w.hb {
			out = append(out, output{subject: w.reply, hdr: statusMsg(100, "Idle Heartbeat")})
			w.lastSent = now
		}
		kept = append(kept, w)
	}
	c.waiting = kept
	return c.deliver(now, out)
}

// pull queues a pull request (and answers what it can at once).
func (c *consumer) pull(reply string, req pullRequest, now time.Time, out []output) []output {
	c.active = now
	if req.Batch <= 0 {
		req.Batch = 1
	}
	if c.cfg.MaxWaiting > 0 && len(c.waiting) >= c.cfg.MaxWaiting {
		return append(out, output{subject: reply, hdr: statusMsg(409, "Exceeded MaxWaiting")})
	}
	w := &pullWait{reply: reply, left: req.Batch, maxBytes: req.MaxBytes, noWait: req.NoWait, hb: req.Heartbeat, lastSent: now}
	if req.Expires > 0 {
		w.expires = now.Add(req.Expires)
	}
	c.waiting = append(c.waiting, w)
	return c.deliver(now, out)
}
