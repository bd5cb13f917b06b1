package broker

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nuid"

	"github.com/murmurmq/murmur/mux"
)

// leafInterest tells every leaf connection of an account the interest it
// should see, as nats-server's leafnode "smap": all of the account's
// subscriptions on this broker (clients, the system responder, imports,
// the routes' interest and the other leaf connections'), except the
// connection's own. A connection to a hub (this broker is its leaf) sees
// only the local part and the interest of the leaves connected here, not
// the routes' or another hub's: the hub's cluster has those already. An
// isolated connection does not see the other leaf connections' interest
// (nats-server's isolate_leafnode_interest and request_isolation).
// Plain interest crosses as LS+ on its first subscriber and LS- after its
// last; a queue group as LS+ with its member count on every change.
//
// It keeps its own counts rather than reading the index, so a leaf that
// registers gets a snapshot that no concurrent change misses or doubles:
// both happen under mu (lock order: mu, then a connection's conn.mu).
type leafInterest struct {
	mu     sync.Mutex
	keys   map[leafKey]*leafCounts
	leaves map[string]map[*leaf]struct{} // by account name
	// lds are the loop detection subjects of the live leaf connections,
	// by account: each connection sends its own $LDS.<random> as
	// interest; one coming back over any leaf connection of the account
	// means the leaf topology has a loop. (nats-server keeps one subject
	// per account; one per connection means a reconnect never mistakes
	// its previous connection's subject, still known to a hub's cluster
	// for a moment, for a loop.)
	lds map[string]map[string]*leaf
}

type leafKey struct{ acc, subject, queue string }

// leafCounts is one subject's (or queue group's) interest by where it is.
type leafCounts struct {
	local  int              // subscriptions of this broker's clients and internals
	remote map[mux.Conn]int // routes and leaf connections: their weight (1 when plain)
}

func newLeafInterest() *leafInterest {
	return &leafInterest{keys: map[leafKey]*leafCounts{}, leaves: map[string]map[*leaf]struct{}{}, lds: map[string]map[string]*leaf{}}
}

// ldsOwner is the live leaf connection of acc whose loop detection
// subject is subject (nil: none).
func (li *leafInterest) ldsOwner(acc, subject string) *leaf {
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.lds[acc][subject]
}

const leafLDSPrefix = "$LDS."

// leafLocalInterest counts a subscription of acc as interest for its leaf
// connections only (not the routes'): a service import's.
func (s *Server) leafLocalInterest(acc *account, sub *mux.Sub, delta int) {
	if li := s.leafs.interest; li != nil {
		li.local(acc.name, sub.Subject, sub.Queue, delta)
	}
}

// local applies a change of this broker's own subscriptions (delta +1/-1).
func (li *leafInterest) local(acc, subject, queue string, delta int) {
	li.mu.Lock()
	defer li.mu.Unlock()
	k := leafKey{acc, subject, queue}
	lc := li.keys[k]
	if lc == nil {
		lc = &leafCounts{}
		li.keys[k] = lc
	}
	lc.local += delta
	li.changedLocked(k, lc)
}

// remote sets the interest owner (a route or leaf connection) has in a
// subject or queue group: weight members, 0 for none.
func (li *leafInterest) remote(acc, subject, queue string, owner mux.Conn, weight int) {
	li.mu.Lock()
	defer li.mu.Unlock()
	k := leafKey{acc, subject, queue}
	lc := li.keys[k]
	if lc == nil {
		if weight <= 0 {
			return
		}
		lc = &leafCounts{}
		li.keys[k] = lc
	}
	if weight > 0 {
		if lc.remote == nil {
			lc.remote = map[mux.Conn]int{}
		}
		lc.remote[owner] = weight
	} else {
		delete(lc.remote, owner)
	}
	li.changedLocked(k, lc)
}

// changedLocked sends each leaf connection of k's account what changed
// for it, and forgets k when nothing is left.
func (li *leafInterest) changedLocked(k leafKey, lc *leafCounts) {
	for l := range li.leaves[k.acc] {
		if line := l.updateLocked(k, lc.forLeaf(l, k.subject)); line != nil {
			l.enqueue(line)
		}
	}
	if lc.local <= 0 && len(lc.remote) == 0 {
		delete(li.keys, k)
	}
}

// forLeaf is how many members of k's interest l should be told of.
func (lc *leafCounts) forLeaf(l *leaf, subject string) int {
	n := max(lc.local, 0)
	lds := strings.HasPrefix(subject, leafLDSPrefix)
	for o, w := range lc.remote {
		if o == mux.Conn(l) {
			continue
		}
		if _, fromLeaf := o.(*leaf); fromLeaf && l.isolated && !lds {
			continue // no east-west interest to an isolated leaf
		}
		if l.toHub && !lds {
			// Up to a hub goes only what this broker and the leaves
			// connected to it want (nats-server's localSubs).
			if ol, ok := o.(*leaf); !ok || ol.toHub {
				continue
			}
		}
		n += w
	}
	return n
}

// add registers l and sends it the account's interest, then its loop
// detection subject.
func (li *leafInterest) add(l *leaf) {
	li.mu.Lock()
	defer li.mu.Unlock()
	acc := l.acc.name
	var b []byte
	for k, lc := range li.keys {
		if k.acc != acc {
			continue
		}
		if n := lc.forLeaf(l, k.subject); n > 0 && l.exports(k.subject) {
			l.smap[leafSmapKey(k.subject, k.queue)] = n
			b = appendLS(b, k.subject, k.queue, n)
		}
	}
	l.lds = leafLDSPrefix + nuid.Next()
	b = appendLS(b, l.lds, "", 1)
	l.enqueue(b)
	set := li.leaves[acc]
	if set == nil {
		set = map[*leaf]struct{}{}
		li.leaves[acc] = set
		li.lds[acc] = map[string]*leaf{}
	}
	set[l] = struct{}{}
	li.lds[acc][l.lds] = l
}

// removeLeaf unregisters l (its own interest is dropped by its closed).
func (li *leafInterest) removeLeaf(l *leaf) {
	li.mu.Lock()
	defer li.mu.Unlock()
	delete(li.leaves[l.acc.name], l)
	delete(li.lds[l.acc.name], l.lds)
}

// updateLocked records that l should now see n members of k and returns
// the LS+/LS- line that tells it, or nil. Caller holds leafInterest.mu.
func (l *leaf) updateLocked(k leafKey, n int) []byte {
	if !l.exports(k.subject) {
		n = 0
	}
	key := leafSmapKey(k.subject, k.queue)
	old := l.smap[key]
	if n > 0 {
		l.smap[key] = n
	} else {
		delete(l.smap, key)
	}
	switch {
	case n > 0 && (old == 0 || k.queue != "" && old != n):
		return appendLS(nil, k.subject, k.queue, n)
	case n <= 0 && old > 0:
		return appendLSMinus(nil, k.subject, k.queue)
	}
	return nil
}

func leafSmapKey(subject, queue string) string {
	if queue == "" {
		return subject
	}
	return subject + " " + queue
}

func appendLS(b []byte, subject, queue string, weight int) []byte {
	b = append(b, "LS+ "...)
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(weight), 10)
	}
	return append(b, crlf...)
}

func appendLSMinus(b []byte, subject, queue string) []byte {
	b = append(b, "LS- "...)
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
	}
	return append(b, crlf...)
}
