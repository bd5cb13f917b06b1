package store

import (
	"github.com/murmurmq/murmur/pubsub"
)

// entry is one stored message in the index. The memory store keeps the
// message itself; the file store keeps where its record is.
type entry struct {
	subj      string
	ts        int64
	size      uint64
	hdr, data []byte // memory store
	seg       *segment
	off       int64 // file store: the record's offset in seg
	rlen      uint32
}

type subjState struct {
	n           uint64
	first, last uint64
}

// index is the in-memory view of a stream both stores share: the live
// entries by sequence, and counts per subject.
type index struct {
	first uint64   // sequence of ents[0]
	last  uint64   // last sequence assigned (0: none)
	ents  []*entry // ents[i] is sequence first+i; nil when removed
	msgs  uint64
	bytes uint64
	subj  map[string]*subjState
}

func newIndex() *index { return &index{first: 1, subj: map[string]*subjState{}} }

func (x *index) get(seq uint64) *entry {
	if seq < x.first || seq >= x.first+uint64(len(x.ents)) {
		return nil
	}
	return x.ents[seq-x.first]
}

// add places e at seq, which must be greater than x.last.
func (x *index) add(seq uint64, e *entry) {
	if len(x.ents) == 0 {
		x.first = seq
	}
	for x.first+uint64(len(x.ents)) < seq {
		x.ents = append(x.ents, nil)
	}
	x.ents = append(x.ents, e)
	x.last = seq
	x.msgs++
	x.bytes += e.size
	ss := x.subj[e.subj]
	if ss == nil {
		ss = &subjState{first: seq}
		x.subj[e.subj] = ss
	}
	ss.n++
	ss.last = seq
}

// remove drops seq and returns its entry (nil when none).
func (x *index) remove(seq uint64) *entry {
	e := x.get(seq)
	if e == nil {
		return nil
	}
	x.ents[seq-x.first] = nil
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
	for len(x.ents) > 0 && x.ents[0] == nil {
		x.ents = x.ents[1:]
		x.first++
	}
	if len(x.ents) == 0 {
		x.ents = nil
		x.first = x.last + 1
	}
	return e
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
		if e := x.ents[seq-x.first]; e != nil && matches(filter, e.subj) {
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
		if e := x.ents[i]; e != nil && matches(filter, e.subj) {
			return x.first + uint64(i)
		}
	}
	return 0
}

// purgeList returns the sequences a Purge(subject, upto, keep) removes.
func (x *index) purgeList(subject string, upto, keep uint64) []uint64 {
	var seqs []uint64
	for i, e := range x.ents {
		seq := x.first + uint64(i)
		if upto > 0 && seq >= upto {
			break
		}
		if e != nil && matches(subject, e.subj) {
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
