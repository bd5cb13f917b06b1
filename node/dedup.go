package node

import "slices"

// dedup remembers, per sender, which seqs this node has already seen, so a
// redelivered Data is dropped (and re-acked) instead of handed over twice.
// It is pure: no locks, no clocks; the receiver serializes calls.
//
// Memory is bounded two ways. A sender's floor (Murmur-Data) says every seq below it
// is settled and will never be sent again, so entries below it are pruned and
// anything arriving below it is a duplicate. And no sender keeps more than
// window entries: past that the smallest are forgotten, so a seq delayed
// behind more than window newer ones may be handed over twice (never lost).
type dedup struct {
	window  int
	senders map[string]*senderWindow
}

type senderWindow struct {
	session string
	floor   uint64
	seen    map[uint64]bool // seq -> acked
	pruneAt int             // prune below floor when seen grows past this
}

// verdict is what the receiver should do with a Data.
type verdict uint8

const (
	fresh      verdict = iota // new: hand over (then ack)
	dupAcked                  // seen and acked: drop, re-ack
	dupPending                // seen, handed over, not yet acked (manual mode): drop silently
)

const minPrune = 256

func newDedup(window int) *dedup {
	return &dedup{window: window, senders: make(map[string]*senderWindow)}
}

// check classifies (from, session, seq) and records it as seen (not acked).
// A new session of a sender (it restarted) starts a fresh window.
func (d *dedup) check(from, session string, seq, floor uint64) verdict {
	w := d.senders[from]
	if w == nil || w.session != session {
		w = &senderWindow{session: session, seen: make(map[uint64]bool), pruneAt: minPrune}
		d.senders[from] = w
	}
	if floor > w.floor {
		w.floor = floor
		if len(w.seen) > w.pruneAt {
			w.prune()
		}
	}
	if seq < w.floor {
		return dupAcked
	}
	if acked, ok := w.seen[seq]; ok {
		if acked {
			return dupAcked
		}
		return dupPending
	}
	w.seen[seq] = false
	if len(w.seen) > d.window {
		w.prune()
		if len(w.seen) > d.window {
			w.evict(d.window / 2)
		}
	}
	return fresh
}

// acked marks (from, session, seq) as acked, so a redelivery is re-acked.
func (d *dedup) acked(from, session string, seq uint64) {
	if w := d.senders[from]; w != nil && w.session == session {
		if _, ok := w.seen[seq]; ok {
			w.seen[seq] = true
		}
	}
}

// forget drops a sender's window (it is gone for good).
func (d *dedup) forget(from string) { delete(d.senders, from) }

func (w *senderWindow) prune() {
	for s := range w.seen {
		if s < w.floor {
			delete(w.seen, s)
		}
	}
	w.pruneAt = max(minPrune, 2*len(w.seen))
}

// evict keeps only the keep largest seqs.
func (w *senderWindow) evict(keep int) {
	seqs := make([]uint64, 0, len(w.seen))
	for s := range w.seen {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs[:len(seqs)-keep] {
		delete(w.seen, s)
	}
}
