package store

import (
	"github.com/murmurmq/murmur/pubsub"
)

// entry is one stored message in the index. Entries are held by value and
// hold no pointers, so a million messages are one allocation the garbage
// collector never scans: the subject is an id into the index's subject
// table, the file store's segment an id. A removed entry is the zero entry
// (size 0: every message counts at least 16).
//
// 32 bytes an entry: a million of them are 32 MB the kernel must fault in
// at recovery (each field counts).
type entry struct {
	ts   int64
	off  uint32 // file store: the record's offset in its segment (segments stay below 2 GiB)
	size uint32 // Size of the message (records are < 64 MiB)
	subj uint32 // subject id (index.byID)
	seg  uint32 // file store: the segment's id
	// n is, in the file store, the record's length; in the memory store,
	// the header's length at the start of its buffer.
	n uint32
}

func (e *entry) live() bool { return e.size > 0 }

type subjState struct {
	name        string
	id          uint32
	n           uint64
	first, last uint64
}

// index is the in-memory view of a stream both stores share: the live
// entries by sequence, and counts per subject.
type index struct {
	first uint64  // sequence of ents[0]
	last  uint64  // last sequence assigned (0: none)
	ents  []entry // ents[i] is sequence first+i; zero when removed
	// bufs, for the memory store only, runs beside ents: bufs[i] is the
	// header then the data of ents[i].
	bufs  [][]byte
	mem   bool
	msgs  uint64
	bytes uint64
	subj  map[string]*subjState
	byID  []*subjState // nil where the id is free
	free  []uint32     // ids to reuse
}

func newIndex(mem bool) *index {
	return &index{first: 1, mem: mem, subj: map[string]*subjState{}}
}

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

// buf returns the memory store's bytes of seq.
func (x *index) buf(seq uint64) []byte { return x.bufs[seq-x.first] }

// name returns e's subject.
func (x *index) name(e *entry) string { return x.byID[e.subj].name }

// stateBytes is state for a subject in a buffer: the lookup does not
// allocate, only a subject new to the index is copied.
func (x *index) stateBytes(name []byte) *subjState {
	if ss := x.subj[string(name)]; ss != nil {
		return ss
	}
	return x.state(string(name))
}

// state returns the subject's state, creating it when it has none.
func (x *index) state(name string) *subjState {
	if ss := x.subj[name]; ss != nil {
		return ss
	}
	ss := &subjState{name: name}
	if n := len(x.free); n > 0 {
		ss.id = x.free[n-1]
		x.free = x.free[:n-1]
		x.byID[ss.id] = ss
	} else {
		ss.id = uint32(len(x.byID))
		x.byID = append(x.byID, ss)
	}
	x.subj[name] = ss
	return ss
}

// add places e for subject ss at seq, which must be greater than x.last;
// buf is the memory store's bytes.
func (x *index) add(seq uint64, ss *subjState, e entry, buf []byte) {
	if len(x.ents) == 0 {
		x.first = seq
	}
	for x.first+uint64(len(x.ents)) < seq {
		x.ents = append(x.ents, entry{})
		if x.mem {
			x.bufs = append(x.bufs, nil)
		}
	}
	if ss.n == 0 {
		ss.first = seq
	}
	e.subj = ss.id
	if len(x.ents) == cap(x.ents) {
		// Double: append grows a large slice by 1.25×, copying a
		// million-entry index some twenty times on the way.
		x.ents = append(makeHuge[entry](0, max(2*len(x.ents), 64)), x.ents...)
	}
	x.ents = append(x.ents, e)
	if x.mem {
		x.bufs = append(x.bufs, buf)
	}
	x.last = seq
	x.msgs++
	x.bytes += uint64(e.size)
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
	if x.mem {
		x.bufs[seq-x.first] = nil
	}
	x.msgs--
	x.bytes -= uint64(e.size)
	ss := x.byID[e.subj]
	ss.n--
	if ss.n == 0 {
		delete(x.subj, ss.name)
		x.byID[ss.id] = nil
		x.free = append(x.free, ss.id)
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
		if x.mem {
			x.bufs = x.bufs[1:]
		}
		x.first++
	}
	if len(x.ents) == 0 {
		x.ents, x.bufs = nil, nil
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
		if e := &x.ents[seq-x.first]; e.live() && matches(filter, x.name(e)) {
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
		if e := &x.ents[i]; e.live() && matches(filter, x.name(e)) {
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
		if e := &x.ents[i]; e.live() && matches(subject, x.name(e)) {
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

// count is how many messages literal subject has.
func (x *index) count(subject string) uint64 {
	if ss := x.subj[subject]; ss != nil {
		return ss.n
	}
	return 0
}

// firstFor is the first sequence of literal subject.
func (x *index) firstFor(subject string) (uint64, bool) {
	if ss := x.subj[subject]; ss != nil {
		return ss.first, true
	}
	return 0, false
}

func (x *index) summary() State {
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
