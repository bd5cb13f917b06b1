package store

// Memory is a store that keeps everything in memory (storage: memory).
type Memory struct{ x *index }

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{x: newIndex(true)} }

var _ Store = (*Memory)(nil)

// Append implements Store.
func (m *Memory) Append(subject string, hdr, data []byte, ts int64) (uint64, error) {
	seq := m.x.last + 1
	var buf []byte
	if n := len(hdr) + len(data); n > 0 {
		buf = make([]byte, 0, n)
		buf = append(append(buf, hdr...), data...)
	}
	m.x.add(seq, m.x.state(subject), entry{ts: ts, size: uint32(Size(subject, hdr, data)), n: uint32(len(hdr))}, buf)
	return seq, nil
}

func (m *Memory) msg(seq uint64) (*Msg, error) {
	e := m.x.get(seq)
	if e == nil {
		return nil, ErrNotFound
	}
	msg := &Msg{Subject: m.x.name(e), Seq: seq, Time: e.ts}
	buf := m.x.buf(seq)
	if e.n > 0 {
		msg.Hdr = buf[:e.n:e.n]
	}
	if len(buf) > int(e.n) {
		msg.Data = buf[e.n:]
	}
	return msg, nil
}

// Load implements Store.
func (m *Memory) Load(seq uint64) (*Msg, error) { return m.msg(seq) }

// Next implements Store.
func (m *Memory) Next(seq uint64, filter string) (*Msg, error) { return m.msg(m.x.next(seq, filter)) }

// Last implements Store.
func (m *Memory) Last(filter string) (*Msg, error) { return m.msg(m.x.lastMatch(filter)) }

// Remove implements Store.
func (m *Memory) Remove(seq uint64) (bool, error) {
	_, ok := m.x.remove(seq)
	return ok, nil
}

// Purge implements Store.
func (m *Memory) Purge(subject string, upto, keep uint64) (uint64, error) {
	seqs := m.x.purgeList(subject, upto, keep)
	for _, s := range seqs {
		m.x.remove(s)
	}
	if matchAll(subject) && keep == 0 && upto > 0 {
		m.x.setFirst(upto)
	}
	return uint64(len(seqs)), nil
}

// SubjectCount implements Store.
func (m *Memory) SubjectCount(subject string) uint64 { return m.x.count(subject) }

// FirstFor implements Store.
func (m *Memory) FirstFor(subject string) (uint64, bool) { return m.x.firstFor(subject) }

// Subjects implements Store.
func (m *Memory) Subjects(filter string) map[string]uint64 { return m.x.subjects(filter) }

// State implements Store.
func (m *Memory) State() State { return m.x.summary() }

// Flush implements Store.
func (m *Memory) Flush() error { return nil }

// Sync implements Store.
func (m *Memory) Sync() error { return nil }

// Close implements Store.
func (m *Memory) Close() error { return nil }

// Delete implements Store.
func (m *Memory) Delete() error { m.x = newIndex(true); return nil }
