package store

// Skipping sequences: a stream with interest retention that stores a
// message no consumer wants still uses up its sequence, and a mirror
// keeps its origin's sequences across the origin's gaps
// (nats-server's SkipMsg / SkipMsgs). A skipped sequence holds no
// message; inside the stream it counts as deleted, at the front it moves
// the first sequence on.

// skipTo assigns every sequence up to seq to no message.
func (x *index) skipTo(seq uint64) {
	if seq <= x.last {
		return
	}
	if len(x.ents) == 0 {
		x.first = seq + 1
		x.last = seq
		return
	}
	for x.first+uint64(len(x.ents)) <= seq {
		x.ents = append(x.ents, entry{})
		if x.mem {
			x.bufs = append(x.bufs, nil)
		}
	}
	x.last = seq
}

// Skip implements Store.
func (m *Memory) Skip(n uint64) (uint64, error) {
	m.x.skipTo(m.x.last + n)
	return m.x.last, nil
}

// Skip implements Store: one recSkip record names the last sequence
// skipped.
func (fs *File) Skip(n uint64) (uint64, error) {
	if n == 0 {
		return fs.x.last, nil
	}
	if fs.active().size >= fs.maxSeg {
		if err := fs.roll(); err != nil {
			return 0, err
		}
	}
	seq := fs.x.last + n
	if _, _, err := fs.write(&record{typ: recSkip, seq: seq}); err != nil {
		return 0, err
	}
	fs.x.skipTo(seq)
	return seq, nil
}
