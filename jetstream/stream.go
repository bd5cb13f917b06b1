package jetstream

import (
	"errors"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/jetstream/store"
	"github.com/murmurmq/murmur/pubsub"
)

func itoa[T ~int | ~int64 | ~uint64](v T) string { return strconv.FormatInt(int64(v), 10) }

// stream is one stream's state machine: its configuration, its store, the
// duplicate window and its consumers. Every method runs on the engine's
// goroutine and takes the time as an argument.
type stream struct {
	cfg       StreamConfig
	created   time.Time
	st        store.Store
	dir       string // "" for memory streams
	subs      []int  // the engine's subscriptions for cfg.Subjects
	dedup     map[string]uint64
	dedupList []dedupEntry // oldest first
	consumers map[string]*consumer
	ttls      ttlHeap // messages with a Nats-TTL, by expiry (ttl.go)

	// Compiled from cfg (transform.go, republish.go, sources.go).
	tr        *subjectTransform // subject_transform; nil: none
	rp        *subjectTransform // republish; nil: none
	sources   []*source         // the mirror, or the sources
	followers []*stream         // streams that mirror or source this one

	// dedupStale marks a recovered stream whose duplicate window is not
	// loaded yet: like nats-server, it is rebuilt lazily, so a restart
	// does not read back every message of the last two minutes.
	dedupStale bool
}

type dedupEntry struct {
	id string
	ts int64
}

// defaults fills nats-server's defaults into a new configuration.
func (c *StreamConfig) defaults() {
	if c.Retention == "" {
		c.Retention = "limits"
	}
	if c.Discard == "" {
		c.Discard = "old"
	}
	if c.Storage == "" {
		c.Storage = "file"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxMsgs == 0 {
		c.MaxMsgs = -1
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	if c.MaxMsgsPer == 0 {
		c.MaxMsgsPer = -1
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = -1
	}
	if c.MaxConsumers == 0 {
		c.MaxConsumers = -1
	}
	if c.Duplicates == 0 && c.Mirror == nil && len(c.Sources) == 0 {
		c.Duplicates = 2 * time.Minute
		if c.MaxAge > 0 && c.MaxAge < c.Duplicates {
			c.Duplicates = c.MaxAge
		}
	}
	if len(c.Subjects) == 0 && c.Mirror == nil && len(c.Sources) == 0 {
		c.Subjects = []string{c.Name}
	}
}

// validName is nats-server's stream and consumer name rule.
func validName(n string) bool {
	if n == "" || len(n) > 255 {
		return false
	}
	for _, r := range n {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n', '/', '\\', 0:
			return false
		}
	}
	return true
}

// check validates a (defaulted) configuration.
func (c *StreamConfig) check() *APIError {
	if !validName(c.Name) && !nameTooLong(c.Name) {
		if c.Name != "" {
			for _, r := range c.Name {
				if r == '/' || r == '\\' {
					return errStreamNameSep
				}
			}
		}
		return errStreamInvalidConfig.with("err", `stream name is required and can not contain '.', '*', '>', '\', '/'`)
	}
	if e := c.checkSizes(); e != nil {
		return e
	}
	if c.Replicas > 1 {
		return errReplicasUnsupported
	}
	if c.Replicas < 0 {
		return apiErr(400, 10133, "replicas count cannot be negative")
	}
	switch c.Retention {
	case "limits", "interest", "workqueue":
	default:
		return errStreamInvalidConfig.with("err", "invalid retention")
	}
	switch c.Discard {
	case "old", "new":
	default:
		return errStreamInvalidConfig.with("err", "invalid discard policy")
	}
	switch c.Storage {
	case "file", "memory":
	default:
		return errStreamInvalidConfig.with("err", "invalid storage type")
	}
	if e := c.checkSources(); e != nil {
		return e
	}
	if c.MaxAge < 0 {
		return errStreamInvalidConfig.with("err", "max age needs to be >= 0")
	}
	if e := c.checkTTLConfig(); e != nil {
		return e
	}
	if c.Duplicates > 0 && c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		return errStreamInvalidConfig.with("err", "duplicates window can not be larger then max age")
	}
	if e := c.checkSubjects(); e != nil {
		return e
	}
	if e := checkStreamTransform(c.SubjectTransform); e != nil {
		return e
	}
	return c.checkRePublish()
}

// collides reports whether two streams' subjects overlap.
func collides(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if pubsub.SubjectsCollide(x, y) {
				return true
			}
		}
	}
	return false
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (s *stream) info(typ string, filter string) *StreamInfo {
	st := s.st.State()
	ss := StreamState{
		Msgs: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq,
		FirstTime: timeOf(st.FirstTime), LastTime: timeOf(st.LastTime),
		NumSubjects: st.Subjects, NumDeleted: int(st.Deleted), Consumers: len(s.consumers),
	}
	if filter != "" {
		ss.Subjects = s.st.Subjects(filter)
	}
	now := time.Now().UTC()
	si := &StreamInfo{Type: typ, Config: s.cfg, Created: s.created, State: ss, TS: now}
	si.Mirror, si.Sources = s.sourcesInfo(now)
	return si
}

// errLimit is a publish refused by a discard-new limit.
var errLimit = errors.New("limit")

// store stores one published message and returns its PubAck. It enforces
// the expected-* headers, the duplicate window and the limits.
func (s *stream) store(subject string, hdr, data []byte, now time.Time, acct *accountUsage) PubAck {
	ack, _ := s.storeMsg(subject, hdr, data, now, now, acct, false)
	return ack
}

// storeMsg stores a message with timestamp ts and reports whether it was
// stored (an interest stream skips a message nobody wants). A sourced
// message (from a mirror's or source's origin) is not held to the
// expected-* headers. The duplicate window applies when it is set.
func (s *stream) storeMsg(subject string, hdr, data []byte, ts, now time.Time, acct *accountUsage, sourced bool) (PubAck, bool) {
	ack := PubAck{Stream: s.cfg.Name}
	expect := hdr // the headers whose expectations are checked
	if sourced {
		expect = nil
	}
	fail := func(e *APIError) (PubAck, bool) { return PubAck{Stream: s.cfg.Name, Error: e}, false }
	if s.cfg.Sealed {
		return fail(errSealed)
	}
	size := len(hdr) + len(data)
	if s.cfg.MaxMsgSize > 0 && size > int(s.cfg.MaxMsgSize) {
		return fail(errMsgTooBig)
	}
	st := s.st.State()
	msgID := header(hdr, hdrMsgID)
	if s.cfg.Duplicates <= 0 {
		msgID = ""
	}
	if msgID != "" {
		if s.dedupStale {
			s.dedupStale = false
			s.rebuildDedup(now)
		}
		s.pruneDedup(now)
		if seq, ok := s.dedup[msgID]; ok {
			ack.Seq, ack.Duplicate = seq, true
			return ack, false
		}
	}
	ttl, hdr, e := s.msgTTL(hdr)
	if e != nil && !sourced {
		return fail(e)
	}
	if v := header(expect, hdrExpectedStream); v != "" && v != s.cfg.Name {
		return fail(errStreamNotMatch)
	}
	if v := header(expect, hdrExpectedLastSeq); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err != nil || n != st.LastSeq {
			return fail(errWrongLastSeq.with("seq", st.LastSeq))
		}
	}
	if v := header(expect, hdrExpectedSubjSeq); v != "" {
		var last uint64
		if m, err := s.st.Last(subject); err == nil {
			last = m.Seq
		}
		if n, err := strconv.ParseUint(v, 10, 64); err != nil || n != last {
			return fail(errWrongLastSeq.with("seq", last))
		}
	}
	if v := header(expect, hdrExpectedLastID); v != "" {
		last := ""
		if m, err := s.st.Last(""); err == nil {
			last = header(m.Hdr, hdrMsgID)
		}
		if v != last {
			return fail(errWrongLastMsgID.with("id", last))
		}
	}
	rollup := header(hdr, hdrRollup)
	if rollup != "" {
		if !s.cfg.AllowRollup || s.cfg.DenyPurge {
			return fail(errRollupFailed.with("err", "rollup not permitted"))
		}
		if rollup != "sub" && rollup != "all" {
			return fail(errRollupFailed.with("err", "rollup value invalid: "+rollup))
		}
	}
	msize := store.Size(subject, hdr, data)
	if s.cfg.Discard == "new" {
		if s.cfg.MaxMsgs > 0 && st.Msgs >= uint64(s.cfg.MaxMsgs) {
			return fail(errStreamStoreFailed.with("err", "maximum messages exceeded"))
		}
		if s.cfg.MaxBytes > 0 && st.Bytes+msize > uint64(s.cfg.MaxBytes) {
			return fail(errStreamStoreFailed.with("err", "maximum bytes exceeded"))
		}
		if s.cfg.DiscardNewPer && s.cfg.MaxMsgsPer > 0 && s.st.SubjectCount(subject) >= uint64(s.cfg.MaxMsgsPer) {
			return fail(errStreamStoreFailed.with("err", "maximum messages per subject exceeded"))
		}
	}
	if e := acct.admit(s.cfg.Storage, msize); e != nil {
		return fail(e)
	}
	skip := s.noInterest(subject)
	var seq uint64
	var err error
	if skip {
		seq, err = s.st.Skip(1)
	} else {
		seq, err = s.st.Append(subject, hdr, data, ts.UnixNano())
	}
	if err != nil {
		return fail(errStreamStoreFailed.with("err", err.Error()))
	}
	if !skip {
		acct.add(s.cfg.Storage, int64(msize))
	}
	ack.Seq = seq
	if !skip {
		s.trackTTL(seq, ts.UnixNano(), ttl)
	}
	if msgID != "" {
		s.dedup[msgID] = seq
		s.dedupList = append(s.dedupList, dedupEntry{msgID, now.UnixNano()})
	}
	switch rollup {
	case "sub":
		s.purge(subject, seq, 0, acct)
	case "all":
		s.purge("", seq, 0, acct)
	}
	s.enforceLimits(subject, acct)
	return ack, !skip
}

// purge removes messages and keeps the account usage right.
func (s *stream) purge(subject string, upto, keep uint64, acct *accountUsage) (uint64, error) {
	before := s.st.State().Bytes
	n, err := s.st.Purge(subject, upto, keep)
	acct.add(s.cfg.Storage, int64(s.st.State().Bytes)-int64(before))
	s.purgedForPending()
	return n, err
}

func (s *stream) remove(seq uint64, acct *accountUsage) (bool, error) {
	before := s.st.State().Bytes
	ok, err := s.st.Remove(seq)
	acct.add(s.cfg.Storage, int64(s.st.State().Bytes)-int64(before))
	if ok {
		s.removedForPending(seq)
	}
	return ok, err
}

// enforceLimits applies discard-old limits after a store.
func (s *stream) enforceLimits(subject string, acct *accountUsage) {
	if s.cfg.MaxMsgsPer > 0 {
		for s.st.SubjectCount(subject) > uint64(s.cfg.MaxMsgsPer) {
			first, _ := s.st.FirstFor(subject)
			s.remove(first, acct)
		}
	}
	for {
		st := s.st.State()
		over := s.cfg.MaxMsgs > 0 && st.Msgs > uint64(s.cfg.MaxMsgs) ||
			s.cfg.MaxBytes > 0 && st.Bytes > uint64(s.cfg.MaxBytes)
		if !over || st.Msgs == 0 {
			return
		}
		s.remove(st.FirstSeq, acct)
	}
}

// expire removes messages older than max_age (but those whose Nats-TTL
// says "never"), the messages whose own TTL has passed, and old duplicate
// ids.
func (s *stream) expire(now time.Time, acct *accountUsage) {
	s.pruneDedup(now)
	s.expireTTLs(now, acct)
	if s.cfg.MaxAge <= 0 {
		return
	}
	cut := now.Add(-s.cfg.MaxAge).UnixNano()
	if !s.cfg.AllowMsgTTL {
		for {
			st := s.st.State()
			if st.Msgs == 0 || st.FirstTime > cut {
				return
			}
			s.removeExpired(st.FirstSeq, now, acct)
		}
	}
	for seq := s.st.State().FirstSeq; ; {
		m, err := s.st.Next(seq, "")
		if err != nil || m.Time > cut {
			return
		}
		seq = m.Seq + 1
		if ttl, _ := parseTTL(header(m.Hdr, hdrTTL)); ttl < 0 {
			continue // never expires
		}
		s.removeExpired(m.Seq, now, acct)
	}
}

func (s *stream) pruneDedup(now time.Time) {
	cut := now.Add(-s.cfg.Duplicates).UnixNano()
	i := 0
	for i < len(s.dedupList) && s.dedupList[i].ts < cut {
		delete(s.dedup, s.dedupList[i].id)
		i++
	}
	s.dedupList = s.dedupList[i:]
}

// rebuildDedup refills the duplicate window from the stored messages
// (after a restart).
func (s *stream) rebuildDedup(now time.Time) {
	cut := now.Add(-s.cfg.Duplicates).UnixNano()
	st := s.st.State()
	var found []dedupEntry
	for seq := st.LastSeq; seq >= st.FirstSeq && seq > 0 && st.Msgs > 0; seq-- {
		m, err := s.st.Load(seq)
		if err != nil {
			continue
		}
		if m.Time < cut {
			break
		}
		if id := header(m.Hdr, hdrMsgID); id != "" {
			s.dedup[id] = seq
			found = append(found, dedupEntry{id, m.Time})
		}
	}
	for i := len(found) - 1; i >= 0; i-- {
		s.dedupList = append(s.dedupList, found[i])
	}
}
