package pubsub

import (
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// ErrInvalidSubject is returned by Insert for a subject or queue name that
// breaks the subject rules.
var ErrInvalidSubject = errors.New("pubsub: invalid subject")

// cacheMax bounds the match cache; past it, entries are evicted at random
// (map order) down to cacheSweep. Values follow nats-server's sublist.
const (
	cacheMax    = 1024
	cacheSweep  = 256
	recentSlots = 4096
)

// Sublist indexes values of type T (typically a pointer to a subscription)
// by subject pattern and optional queue group. It never looks inside T.
//
// Match results are cached per literal subject; the cache is invalidated
// precisely (only entries the changed pattern matches) on Insert and Remove.
// Results returned by Match are shared and must not be modified.
type Sublist[T comparable] struct {
	mu    sync.RWMutex
	root  *level[T]
	count int
	cache map[string]*Result[T]
	// recent remembers hashes of subjects that missed the cache once: a
	// subject is cached on its second miss, so one-shot subjects (replies to
	// unique inboxes) neither take the write lock nor churn the cache.
	// Allocated on the first miss (32 KiB), so an index nobody publishes
	// to (an idle account's) stays small.
	recent atomic.Pointer[[recentSlots]atomic.Uint64]
	seed   maphash.Seed

	// Inserts and removes are counted here (they take the write lock
	// anyway); lookups are counted by the caller (see MatchCounted), so
	// concurrent Matches share no counter.
	inserts, removes atomic.Uint64
}

// Result is the set of values matching one subject.
type Result[T comparable] struct {
	// Plain are the matching values that are not in a queue group.
	Plain []T
	// Queues are the matching queue groups, merged by name across patterns.
	Queues []QueueGroup[T]
}

// QueueGroup is one queue group's matching members.
type QueueGroup[T comparable] struct {
	Name    string
	Members []T
}

// Empty reports whether nothing matched.
func (r *Result[T]) Empty() bool { return len(r.Plain) == 0 && len(r.Queues) == 0 }

type level[T comparable] struct {
	nodes    map[string]*node[T]
	pwc, fwc *node[T]
}

type node[T comparable] struct {
	next   *level[T]
	plain  []T
	queues []QueueGroup[T]
}

func (n *node[T]) empty() bool {
	return len(n.plain) == 0 && len(n.queues) == 0 && (n.next == nil || n.next.empty())
}

func (l *level[T]) empty() bool { return len(l.nodes) == 0 && l.pwc == nil && l.fwc == nil }

// NewSublist returns an empty index.
func NewSublist[T comparable]() *Sublist[T] {
	return &Sublist[T]{root: &level[T]{}, cache: make(map[string]*Result[T]), seed: maphash.MakeSeed()}
}

// Insert adds v under subject (and queue group, when queue is not empty).
func (s *Sublist[T]) Insert(subject, queue string, v T) error {
	if !ValidSubject(subject) || (queue != "" && !ValidQueueName(queue)) {
		return ErrInvalidSubject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.root
	var n *node[T]
	for rest, more := subject, true; more; {
		var tok string
		tok, rest, more = cut(rest)
		n = l.child(tok, true)
		if more {
			if n.next == nil {
				n.next = &level[T]{}
			}
			l = n.next
		}
	}
	if queue == "" {
		n.plain = append(n.plain, v)
	} else {
		i := findGroup(n.queues, queue)
		if i < 0 {
			n.queues = append(n.queues, QueueGroup[T]{Name: queue})
			i = len(n.queues) - 1
		}
		n.queues[i].Members = append(n.queues[i].Members, v)
	}
	s.count++
	s.inserts.Add(1)
	s.invalidate(subject)
	return nil
}

// Remove deletes v from subject/queue. It reports whether v was there.
func (s *Sublist[T]) Remove(subject, queue string, v T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	type step struct {
		l   *level[T]
		tok string
		n   *node[T]
	}
	var path [32]step
	steps := path[:0]
	l := s.root
	var n *node[T]
	for rest, more := subject, true; more; {
		var tok string
		tok, rest, more = cut(rest)
		if l == nil {
			return false
		}
		if n = l.child(tok, false); n == nil {
			return false
		}
		steps = append(steps, step{l, tok, n})
		l = n.next
	}
	if !n.remove(queue, v) {
		return false
	}
	// Prune nodes left empty, deepest first.
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		if !st.n.empty() {
			break
		}
		st.l.drop(st.tok)
	}
	s.count--
	s.removes.Add(1)
	s.invalidate(subject)
	return true
}

func (n *node[T]) remove(queue string, v T) bool {
	if queue == "" {
		var ok bool
		n.plain, ok = without(n.plain, v)
		return ok
	}
	i := findGroup(n.queues, queue)
	if i < 0 {
		return false
	}
	var ok bool
	n.queues[i].Members, ok = without(n.queues[i].Members, v)
	if len(n.queues[i].Members) == 0 {
		n.queues = append(n.queues[:i], n.queues[i+1:]...)
	}
	return ok
}

func without[T comparable](s []T, v T) ([]T, bool) {
	for i := range s {
		if s[i] == v {
			last := len(s) - 1
			s[i] = s[last]
			var zero T
			s[last] = zero
			return s[:last], true
		}
	}
	return s, false
}

func findGroup[T comparable](qs []QueueGroup[T], name string) int {
	for i := range qs {
		if qs[i].Name == name {
			return i
		}
	}
	return -1
}

func (l *level[T]) child(tok string, create bool) *node[T] {
	switch tok {
	case "*":
		if l.pwc == nil && create {
			l.pwc = &node[T]{}
		}
		return l.pwc
	case ">":
		if l.fwc == nil && create {
			l.fwc = &node[T]{}
		}
		return l.fwc
	}
	n := l.nodes[tok]
	if n == nil && create {
		if l.nodes == nil {
			l.nodes = make(map[string]*node[T])
		}
		n = &node[T]{}
		l.nodes[tok] = n
	}
	return n
}

func (l *level[T]) drop(tok string) {
	switch tok {
	case "*":
		l.pwc = nil
	case ">":
		l.fwc = nil
	default:
		delete(l.nodes, tok)
	}
}

// invalidate drops cached results the pattern could change. Caller holds mu.
func (s *Sublist[T]) invalidate(pattern string) {
	for k := range s.cache {
		if SubjectMatches(pattern, k) {
			delete(s.cache, k)
		}
	}
}

// Match returns everything subscribed to the literal subject. The result is
// shared: read it, never modify it.
func (s *Sublist[T]) Match(subject []byte) *Result[T] {
	var c MatchCount
	return s.MatchCounted(subject, &c)
}

// MatchCount counts lookups for its owner (one goroutine: a connection's
// reader), who sums them when asked. A counter in the Sublist itself would
// be written by every core on every Match.
type MatchCount struct {
	Matches, Hits uint64 // lookups, and those the cache answered
}

// MatchCounted is Match, counting the lookup in c.
func (s *Sublist[T]) MatchCounted(subject []byte, c *MatchCount) *Result[T] {
	c.Matches++
	s.mu.RLock()
	r, ok := s.cache[string(subject)]
	if ok {
		s.mu.RUnlock()
		c.Hits++
		return r
	}
	h := maphash.Bytes(s.seed, subject) | 1 // never 0, the empty slot
	recent := s.recent.Load()
	if recent == nil {
		s.recent.CompareAndSwap(nil, new([recentSlots]atomic.Uint64))
		recent = s.recent.Load()
	}
	slot := &recent[h%recentSlots]
	if slot.Load() != h {
		// First miss: answer without caching.
		slot.Store(h)
		r = &Result[T]{}
		if validPublishTokens(subject) {
			matchLevel(s.root, string(subject), r)
		}
		s.mu.RUnlock()
		return r
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.cache[string(subject)]; ok {
		return r
	}
	r = &Result[T]{}
	if validPublishTokens(subject) {
		matchLevel(s.root, string(subject), r)
	}
	if len(s.cache) >= cacheMax {
		for k := range s.cache {
			delete(s.cache, k)
			if len(s.cache) <= cacheSweep {
				break
			}
		}
	}
	s.cache[string(subject)] = r
	return r
}

// validPublishTokens rejects subjects no subscription can match: empty, or
// with an empty token.
func validPublishTokens(subject []byte) bool {
	if len(subject) == 0 || subject[0] == tsep || subject[len(subject)-1] == tsep {
		return false
	}
	for i := 1; i < len(subject); i++ {
		if subject[i] == tsep && subject[i-1] == tsep {
			return false
		}
	}
	return true
}

func matchLevel[T comparable](l *level[T], subject string, r *Result[T]) {
	tok, rest, more := cut(subject)
	if l.fwc != nil {
		addNode(l.fwc, r)
	}
	if l.pwc != nil {
		descend(l.pwc, rest, more, r)
	}
	if n := l.nodes[tok]; n != nil {
		descend(n, rest, more, r)
	}
}

func descend[T comparable](n *node[T], rest string, more bool, r *Result[T]) {
	if !more {
		addNode(n, r)
		return
	}
	if n.next != nil {
		matchLevel(n.next, rest, r)
	}
}

func addNode[T comparable](n *node[T], r *Result[T]) {
	r.Plain = append(r.Plain, n.plain...)
	for _, g := range n.queues {
		if i := findGroup(r.Queues, g.Name); i >= 0 {
			r.Queues[i].Members = append(r.Queues[i].Members, g.Members...)
			continue
		}
		r.Queues = append(r.Queues, QueueGroup[T]{Name: g.Name, Members: append([]T(nil), g.Members...)})
	}
}

// Count is the number of values in the index.
func (s *Sublist[T]) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count
}

// Stats are the index's counters, for monitoring.
type Stats struct {
	Count, CacheEntries int
	Inserts, Removes    uint64
	// Matches and Hits stay zero in Sublist.Stats: lookups are counted by
	// the callers (MatchCount), who fill these in when they sum.
	Matches, Hits uint64
}

// Stats returns a snapshot of the counters.
func (s *Sublist[T]) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{
		Count: s.count, CacheEntries: len(s.cache),
		Inserts: s.inserts.Load(), Removes: s.removes.Load(),
	}
}
