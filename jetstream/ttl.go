package jetstream

import (
	"container/heap"
	"strconv"
	"strings"
	"time"
)

// Per-message TTLs and subject delete markers, as nats-server 2.11+:
//
//   - A publish may carry `Nats-TTL: <ttl>` (whole seconds, a Go duration of
//     at least 1s, or "never") into a stream with allow_msg_ttl; the message
//     is removed once it is that old. "never" exempts it from max_age too.
//     Without allow_msg_ttl the publish is refused (10166), a bad value too
//     (10165).
//   - With subject_delete_marker_ttl, a message that max_age or its TTL
//     removes while it is the last of its subject is replaced by a marker:
//     an empty message on the same subject with `Nats-Marker-Reason: MaxAge`,
//     `Nats-TTL: <marker ttl>` and `Nats-Rollup: sub`, so consumers (a
//     key-value watcher) learn the subject is gone. The marker expires in
//     turn, without a marker of its own.

const (
	hdrTTL          = "Nats-TTL"
	hdrMarkerReason = "Nats-Marker-Reason"
)

var (
	errMsgTTLInvalid  = apiErr(400, 10165, "invalid per-message TTL")
	errMsgTTLDisabled = apiErr(400, 10166, "per-message TTL is disabled")
)

// parseTTL reads a Nats-TTL value: seconds > 0, -1 for "never", 0 for none.
func parseTTL(v string) (int64, *APIError) {
	if v == "" {
		return 0, nil
	}
	if strings.EqualFold(v, "never") {
		return -1, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < time.Second {
			return 0, errMsgTTLInvalid
		}
		return int64(d / time.Second), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errMsgTTLInvalid
	}
	return n, nil
}

// checkTTLConfig applies nats-server's (non-pedantic) rules for
// subject_delete_marker_ttl: at least a second, and it turns on message
// TTLs and roll-ups.
func (c *StreamConfig) checkTTLConfig() *APIError {
	switch {
	case c.SubjectDeleteMarkerTTL < 0:
		return errStreamInvalidConfig.with("err", "subject delete marker TTL must not be negative")
	case c.SubjectDeleteMarkerTTL == 0:
		return nil
	case c.SubjectDeleteMarkerTTL < time.Second:
		return errStreamInvalidConfig.with("err", "subject delete marker TTL must be at least 1 second")
	}
	c.AllowMsgTTL = true
	if !c.AllowRollup {
		c.AllowRollup, c.DenyPurge = true, false
	}
	return nil
}

// msgTTL validates a publish's Nats-TTL against the stream and returns the
// TTL in seconds and the header block to store (raised to the marker TTL
// when markers are on, as nats-server does, so a marker is never missed).
func (s *stream) msgTTL(hdr []byte) (int64, []byte, *APIError) {
	v := header(hdr, hdrTTL)
	if v == "" {
		return 0, hdr, nil
	}
	ttl, e := parseTTL(v)
	if e != nil {
		return 0, hdr, e
	}
	if ttl != 0 && !s.cfg.AllowMsgTTL {
		return 0, hdr, errMsgTTLDisabled
	}
	if min := int64(s.cfg.SubjectDeleteMarkerTTL / time.Second); ttl > 0 && min > 0 && s.cfg.MaxMsgsPer != 1 && ttl < min {
		ttl = min
		hdr = setHeader(hdr, hdrTTL, strconv.FormatInt(ttl, 10))
	}
	return ttl, hdr, nil
}

// ttlEntry is a message due to expire.
type ttlEntry struct {
	at  int64 // unix ns
	seq uint64
}

// ttlHeap orders the messages with a TTL by expiry.
type ttlHeap []ttlEntry

func (h ttlHeap) Len() int           { return len(h) }
func (h ttlHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h ttlHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ttlHeap) Push(x any)        { *h = append(*h, x.(ttlEntry)) }
func (h *ttlHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// trackTTL records a stored message's expiry (ttl in seconds > 0).
func (s *stream) trackTTL(seq uint64, ts, ttl int64) {
	if ttl > 0 {
		heap.Push(&s.ttls, ttlEntry{at: ts + ttl*int64(time.Second), seq: seq})
	}
}

// rebuildTTLs refills the expiry heap from the stored messages (after a
// restart); only streams that allow message TTLs can hold any.
func (s *stream) rebuildTTLs() {
	if !s.cfg.AllowMsgTTL {
		return
	}
	st := s.st.State()
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.st.Next(seq, "")
		if err != nil {
			return
		}
		seq = m.Seq
		if ttl, e := parseTTL(header(m.Hdr, hdrTTL)); e == nil {
			s.trackTTL(m.Seq, m.Time, ttl)
		}
	}
}

// expireTTLs removes the messages whose TTL has passed. It reports
// whether it stored a marker (consumers then have something new).
func (s *stream) expireTTLs(now time.Time, acct *accountUsage) (marked bool) {
	for len(s.ttls) > 0 && s.ttls[0].at <= now.UnixNano() {
		e := heap.Pop(&s.ttls).(ttlEntry)
		if s.removeExpired(e.seq, now, acct) {
			marked = true
		}
	}
	return marked
}

// removeExpired removes seq, which max_age or its TTL expired; with
// subject delete markers, the last message of a subject is replaced by a
// marker (whose roll-up removes it). It reports whether a marker was stored.
func (s *stream) removeExpired(seq uint64, now time.Time, acct *accountUsage) bool {
	if s.cfg.SubjectDeleteMarkerTTL > 0 {
		m, err := s.st.Load(seq)
		if err != nil {
			return false
		}
		if header(m.Hdr, hdrMarkerReason) == "" && s.st.SubjectCount(m.Subject) == 1 {
			hdr := []byte("NATS/1.0\r\n" + hdrMarkerReason + ": MaxAge\r\n" +
				hdrTTL + ": " + s.cfg.SubjectDeleteMarkerTTL.String() + "\r\n" +
				hdrRollup + ": sub\r\n\r\n")
			if ack := s.store(m.Subject, hdr, nil, now, acct); ack.Error == nil {
				return true
			}
		}
	}
	s.remove(seq, acct)
	return false
}
