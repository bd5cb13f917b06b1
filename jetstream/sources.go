package jetstream

import (
	"crypto/sha256"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/jetstream/store"
)

// Mirrors and sources between the streams of one account. The engine
// owns every stream of its account, so a stream takes its origins'
// messages directly from their stores, on the engine goroutine: at
// creation (and after a restart) it catches up with what the origin
// holds, then it follows each message the origin stores. nats-server
// does the same through internal consumers; what a client sees is the
// same:
//
//   - A mirror keeps its origin's sequences (gaps are skipped sequences)
//     and timestamps and headers; it has no subjects of its own, so it
//     takes no direct publishes. filter_subject or subject_transforms
//     narrow and map what it takes.
//   - A source's messages get new sequences and the time they arrive,
//     with the header Nats-Stream-Source: "<stream> <seq> <filter>
//     <dest> <subject> <identity>" (the origin's name and sequence, the
//     filters and destinations joined by form feed, ">" for none, the
//     original subject, and the origin's identity: 8 characters of
//     nats-server's hash of its creation time, which tells a recreated
//     origin apart).
//   - opt_start_seq / opt_start_time choose where taking begins.
//   - A restart takes up where the stream left off: a mirror from its
//     last sequence; a source from the larger of its saved position
//     (sources.json, written each second and at shutdown) and the last
//     Nats-Stream-Source header of that source in the stream.
//
// Origins in another account or JetStream domain (external, or the
// nats.go Domain option) are refused.

// source is a mirror's or source's runtime state.
type source struct {
	cfg     *StreamSource
	mirror  bool
	iname   string              // "<name> <filters> <dests>", the header's key
	filters []*subjectTransform // none: everything, subject kept
	started bool                // last is set
	last    uint64              // origin sequence taken up to
	saved   uint64              // last as in sources.json
	active  time.Time
}

// compileSources builds the runtime state of the stream's mirror or
// sources, keeping the positions of those that stay.
func (s *stream) compileSources() error {
	old := map[string]*source{}
	for _, src := range s.sources {
		old[src.iname] = src
	}
	s.sources = nil
	add := func(ss *StreamSource, mirror bool) error {
		src := &source{cfg: ss, mirror: mirror, iname: ss.composeIName()}
		if o := old[src.iname]; o != nil && o.mirror == mirror {
			src.started, src.last, src.saved, src.active = o.started, o.last, o.saved, o.active
		}
		if ss.FilterSubject != "" {
			src.filters = []*subjectTransform{{src: ss.FilterSubject}}
		}
		for _, t := range ss.SubjectTransforms {
			tr, err := compileTransform(t)
			if err != nil {
				return err
			}
			src.filters = append(src.filters, tr)
		}
		s.sources = append(s.sources, src)
		return nil
	}
	if s.cfg.Mirror != nil {
		if err := add(s.cfg.Mirror, true); err != nil {
			return err
		}
	}
	for _, ss := range s.cfg.Sources {
		if err := add(ss, false); err != nil {
			return err
		}
	}
	return nil
}

// mapSubject is the subject an origin's message is stored under, or
// false when the source does not take it.
func (src *source) mapSubject(subject string) (string, bool) {
	if len(src.filters) == 0 {
		return subject, true
	}
	for _, f := range src.filters {
		if out, ok := f.match(subject); ok {
			return out, true
		}
	}
	return "", false
}

// relink recomputes which streams follow which origin.
func (e *Engine) relink() {
	for _, s := range e.streams {
		s.followers = nil
	}
	for _, s := range e.streams {
		for _, src := range s.sources {
			if o := e.streams[src.cfg.Name]; o != nil {
				o.followers = append(o.followers, s)
			}
		}
	}
	for _, s := range e.streams {
		dedupStreams(&s.followers)
	}
}

func dedupStreams(l *[]*stream) {
	seen := map[*stream]bool{}
	out := (*l)[:0]
	for _, s := range *l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	*l = out
}

// startAt sets where a source begins in origin o: opt_start_seq,
// opt_start_time, or the origin's first message.
func (src *source) startAt(o *stream) {
	src.started = true
	switch {
	case src.cfg.OptStartSeq > 0:
		src.last = src.cfg.OptStartSeq - 1
	case src.cfg.OptStartTime != nil:
		at := src.cfg.OptStartTime.UnixNano()
		st := o.st.State()
		src.last = st.LastSeq
		for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
			if m, err := o.st.Next(seq, ""); err == nil {
				if m.Time >= at {
					src.last = m.Seq - 1
					break
				}
				seq = m.Seq
			}
		}
	}
}

// syncSources takes what s's origins hold beyond each source's position.
func (e *Engine) syncSources(s *stream, now time.Time, depth int) {
	if s.cfg.Sealed {
		return // a sealed stream takes nothing more
	}
	if depth > maxSourceDepth {
		e.log.Warn("source chain too deep", zap.String("stream", s.cfg.Name))
		return
	}
	for _, src := range s.sources {
		o := e.streams[src.cfg.Name]
		if o == nil {
			continue
		}
		if !src.started {
			src.startAt(o)
		}
		filter := ""
		if len(src.filters) == 1 && src.filters[0].tr == nil {
			filter = src.filters[0].src
		}
		// Up to what the origin holds now: what a cycle stores into it
		// meanwhile is the next sync's, so each sync ends.
		end := o.st.State().LastSeq
		for src.last < end {
			m, err := o.st.Next(src.last+1, filter)
			if err != nil || m.Seq > end {
				break
			}
			src.last = m.Seq
			src.active = now
			e.takeSourced(s, src, m, now, depth)
		}
		// Nothing further matches: the source has seen all the origin held.
		src.last = max(src.last, end)
	}
}

// takeSourced stores one origin message into s.
func (e *Engine) takeSourced(s *stream, src *source, m *store.Msg, now time.Time, depth int) {
	subject, ok := src.mapSubject(m.Subject)
	if !ok {
		return
	}
	hdr, ts := m.Hdr, now
	if src.mirror {
		ts = time.Unix(0, m.Time)
		st := s.st.State()
		if m.Seq <= st.LastSeq {
			return // taken before a restart
		}
		if gap := m.Seq - st.LastSeq - 1; gap > 0 {
			if _, err := s.st.Skip(gap); err != nil {
				e.log.Error("mirror skip", zap.String("stream", s.cfg.Name), zap.Error(err))
				return
			}
		}
	} else {
		if v := header(hdr, hdrStreamSource); v != "" && strings.SplitN(v, " ", 2)[0] == s.cfg.Name {
			return // s's own message coming round (A sources B sources A)
		}
		parts := strings.SplitN(src.iname, " ", 3)
		hdr = setHeader(hdr, hdrStreamSource, parts[0]+" "+itoa(m.Seq)+" "+parts[1]+" "+parts[2]+" "+m.Subject+" "+e.streams[src.cfg.Name].identity())
	}
	last := s.lastOnSubject(subject)
	ack, stored := s.storeMsg(subject, hdr, m.Data, ts, now, &e.usage, true)
	if ack.Error != nil {
		e.log.Warn("sourced message refused", zap.String("stream", s.cfg.Name), zap.String("origin", src.cfg.Name), zap.Uint64("seq", m.Seq), zap.Error(ack.Error))
		return
	}
	if stored {
		e.stored(s, ack.Seq, subject, hdr, m.Data, ts, last, now, depth+1)
	}
}

// stored runs what follows a message stored in s: its republish, the
// deliveries to s's consumers and the streams that take from s.
func (e *Engine) stored(s *stream, seq uint64, subject string, hdr, data []byte, ts time.Time, last uint64, now time.Time, depth int) {
	e.out = s.republish(seq, subject, hdr, data, ts, last, e.out)
	for _, c := range s.consumers {
		e.out = c.deliver(now, e.out)
	}
	for _, f := range s.followers {
		e.syncSources(f, now, depth)
	}
}

// identity is nats-server's stream identity: its hash of the creation
// time (RFC 3339, nanoseconds, UTC).
func (s *stream) identity() string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := sha256.Sum256([]byte(s.created.UTC().Format(time.RFC3339Nano)))
	out := make([]byte, 8)
	for i := range out {
		out[i] = digits[int(b[i]%62)]
	}
	return string(out)
}

// recoverSources sets each source's position after a restart. A header
// naming another identity than the origin's now came from an origin
// since deleted and recreated: it does not count.
func (s *stream) recoverSources(origins map[string]*stream) {
	saved := map[string]uint64{}
	if s.dir != "" {
		readJSON(filepath.Join(s.dir, "sources.json"), &saved)
	}
	st := s.st.State()
	want := 0
	for _, src := range s.sources {
		if src.mirror {
			if st.LastSeq > 0 {
				src.started, src.last = true, st.LastSeq
			}
			continue
		}
		if p, ok := saved[src.iname]; ok {
			src.started, src.last, src.saved = true, p, p
		}
		want++
	}
	if want == 0 || st.Msgs == 0 {
		return
	}
	// The newest Nats-Stream-Source header of each source.
	found := map[*source]bool{}
	for seq := st.LastSeq; seq >= st.FirstSeq && len(found) < want; seq-- {
		m, err := s.st.Load(seq)
		if err != nil {
			continue
		}
		v := header(m.Hdr, hdrStreamSource)
		if v == "" {
			continue
		}
		f := strings.Split(v, " ")
		if len(f) < 4 {
			continue
		}
		if o := origins[f[0]]; len(f) >= 6 && o != nil && f[5] != o.identity() {
			continue
		}
		in := f[0] + " " + f[2] + " " + f[3]
		for _, src := range s.sources {
			if !src.mirror && !found[src] && src.iname == in {
				found[src] = true
				if n := parseUint(f[1]); !src.started || n > src.last {
					src.started, src.last = true, n
				}
			}
		}
	}
}

// saveSources writes the positions of file streams' sources that moved.
func (e *Engine) saveSources() {
	for _, s := range e.streams {
		if s.dir == "" {
			continue
		}
		moved := false
		pos := map[string]uint64{}
		for _, src := range s.sources {
			if src.mirror || !src.started {
				continue
			}
			pos[src.iname] = src.last
			moved = moved || src.last != src.saved
		}
		if !moved {
			continue
		}
		if err := writeJSON(filepath.Join(s.dir, "sources.json"), pos); err != nil {
			e.log.Error("source positions", zap.String("stream", s.cfg.Name), zap.Error(err))
			continue
		}
		for _, src := range s.sources {
			src.saved = src.last
		}
	}
}

// sourcesInfo is the mirror and sources part of stream info.
func (s *stream) sourcesInfo(now time.Time) (mirror *StreamSourceInfo, sources []*StreamSourceInfo) {
	for _, src := range s.sources {
		// Lag is 0: origins are taken from synchronously.
		si := &StreamSourceInfo{Name: src.cfg.Name, Active: -1, FilterSubject: src.cfg.FilterSubject, SubjectTransforms: src.cfg.SubjectTransforms}
		if !src.active.IsZero() {
			si.Active = now.Sub(src.active)
		}
		if !src.started {
			si.Error = errStreamNotFound
		}
		if src.mirror {
			mirror = si
		} else {
			sources = append(sources, si)
		}
	}
	return mirror, sources
}

// startSources links the recovered streams to their origins, sets each
// source's position and catches up with what the origins hold.
func (e *Engine) startSources(now time.Time) {
	e.relink()
	for _, s := range e.streams {
		if len(s.sources) > 0 {
			s.recoverSources(e.streams)
			e.syncSources(s, now, 0)
		}
	}
}

// streamsChanged relinks origins and followers after a stream was
// created or updated, and lets s and the streams that take from it catch
// up.
func (e *Engine) streamsChanged(s *stream, now time.Time) {
	e.relink()
	e.syncSources(s, now, 0)
	for _, f := range s.followers {
		e.syncSources(f, now, 0)
	}
}

// originGone forgets the positions of s's sources in a deleted origin:
// if a stream of that name comes again, they start over in it (as
// nats-server, which tells the new one by its identity).
func (s *stream) originGone(name string) {
	for _, src := range s.sources {
		if src.cfg.Name == name && !src.mirror {
			src.started, src.last = false, 0
		}
	}
}
