package store

import (
	"github.com/murmurmq/murmur/pubsub"
)

// entry is one stored message in the index, held by value (a million
// messages are one allocation, not a million). The memory store keeps the
// message itself; the file store keeps where its record is. A removed
// entry is the zero entry (size 0: every message counts at least 16).
type entry struct {
	subj string // interned: the key of the subject's subjState
	ts   int64
	size uint64
	seg  *segment // file store
	off  int64    // file store: the record's offset in seg
	rlen uint32   // file store: the record's length
	hlen uint32   // memory store: buf[:hlen] is the header
	buf  []byte   // memory store: header then data
}

func (e *entry) live() bool { return e.size > 0 }

type subjState struct {
	name        string
	n           uint64
	first, last uint64
}

// index is the in-memory view of a stream both stores share: the live
// entries by sequence, and counts per subject.
type index struct {
	first uint64  // sequence of ents[0]
	last  uint64  // last sequence assigned (0: none)
	ents  []entry // ents[i] is sequence first+i; zero when removed
	msgs  uint64
	bytes uint64
	subj  map[string]*subjState
}

func newIndex() *index { return &index{first: 1, subj: map[string]*subjState{}} }

// get returns the live entry at seq, or nil. The pointer is valid until
// the index next changes.
func (x *index) get(seq uint64) *entry {
	if seq < x.first || seq >= x.first+uint64(len(x.ents)) {
		return nil
	}
	if e := &x.ents[seq-x.first]; e.live() {
		return e
	}
	return nil
}

// intern returns the subject string the index already holds for subj, or
// "" when it has none; the lookup does not allocate.
func (x *index) intern(subj []byte) string {
	if ss := x.subj[string(subj)]; ss != nil {
		return ss.name
	}
	return ""
}

// add places e at seq, which must be greater than x.last.
func (x *index) add(seq uint64, e entry) {
	if len(x.ents) == 0 {
		x.first = seq
	}
	for x.first+uint64(len(x.ents)) < seq {
		x.ents = append(x.ents, entry{})
	}
	ss := x.subj[e.subj]
	if ss == nil {
		ss = &subjState{name: e.subj, first: seq}
		x.subj[e.subj] = ss
	}
	e.subj = ss.name
	x.ents = append(x.ents, e)
	x.last = seq
	x.msgs++
	x.bytes += e.size
	ss.n++
	ss.last = seq
}

// remove drops seq and returns its entry (false when none).
func (x *index) remove(seq uint64) (entry, bool) {
	p := x.get(seq)
	if p == nil {
		return entry{}, false
	}
	e := *p
	*p = entry{}
	x.msgs--
	x.bytes -= e.size
	ss := x.subj[e.subj]
	ss.n--
	if ss.n == 0 {
		delete(x.subj, e.subj)
	} else if ss.first == seq {
		for s := seq + 1; s <= ss.last; s++ {
			if o := x.get(s); o != nil && o.subj == e.subj {
				ss.first = s
				break
			}
		}
	}
	// Trim removed entries off the front so first stays the first live one.
	for len(x.ents) > 0 && !x.ents[0].live() {
		x.ents = x.ents[1:]
		x.first++
	}
	if len(x.ents) == 0 {
		x.ents = nil
		x.first = x.last + 1
	}
	return e, true
}

// setFirst moves an empty index's first sequence on (a purge that also
// sets the next sequence).
func (x *index) setFirst(seq uint64) {
	if len(x.ents) == 0 && seq > x.first {
		x.first = seq
		if seq-1 > x.last {
			x.last = seq - 1
		}
	}
}

func matchAll(filter string) bool { return filter == "" || filter == ">" }

func matches(filter, subject string) bool {
	return matchAll(filter) || filter == subject || pubsub.SubjectMatches(filter, subject)
}

// next returns the first live sequence >= seq matching filter, or 0.
func (x *index) next(seq uint64, filter string) uint64 {
	if seq < x.first {
		seq = x.first
	}
	if !matchAll(filter) && !pubsub.HasWildcard(filter) {
		ss := x.subj[filter]
		if ss == nil || ss.last < seq {
			return 0
		}
		if ss.first > seq {
			seq = ss.first
		}
	}
	end := x.first + uint64(len(x.ents))
	for ; seq < end; seq++ {
		if e := &x.ents[seq-x.first]; e.live() && matches(filter, e.subj) {
			return seq
		}
	}
	return 0
}

// lastMatch returns the last live sequence matching filter, or 0.
func (x *index) lastMatch(filter string) uint64 {
	if !matchAll(filter) && !pubsub.HasWildcard(filter) {
		if ss := x.subj[filter]; ss != nil {
			return ss.last
		}
		return 0
	}
	for i := len(x.ents) - 1; i >= 0; i-- {
		if e := &x.ents[i]; e.live() && matches(filter, e.subj) {
			return x.first + uint64(i)
		}
	}
	return 0
}

// purgeList returns the sequences a Purge(subject, upto, keep) removes.
func (x *index) purgeList(subject string, upto, keep uint64) []uint64 {
	var seqs []uint64
	for i := range x.ents {
		seq := x.first + uint64(i)
		if upto > 0 && seq >= upto {
			break
		}
		if e := &x.ents[i]; e.live() && matches(subject, e.subj) {
			seqs = append(seqs, seq)
		}
	}
	if keep > 0 {
		if uint64(len(seqs)) <= keep {
			return nil
		}
		seqs = seqs[:uint64(len(seqs))-keep]
	}
	return seqs
}

func (x *index) subjects(filter string) map[string]uint64 {
	out := map[string]uint64{}
	for s, ss := range x.subj {
		if matches(filter, s) {
			out[s] = ss.n
		}
	}
	return out
}

func (x *index) state() State {
	st := State{Msgs: x.msgs, Bytes: x.bytes, LastSeq: x.last, Subjects: len(x.subj)}
	if x.msgs == 0 {
		st.FirstSeq = x.last + 1
		return st
	}
	st.FirstSeq = x.first
	st.FirstTime = x.ents[0].ts
	if e := x.get(x.last); e != nil {
		st.LastTime = e.ts
	}
	st.Deleted = x.last - x.first + 1 - x.msgs
	return st
}
