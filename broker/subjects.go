package broker

import (
	"hash/maphash"
	"sort"
	"sync"
	"time"
)

// Top subjects: each account keeps an estimate of the subjects its clients
// publish to most, for the monitor (/murmur/subjz and the live page).
//
// The cost on the message path is one increment and one branch per
// published message: a client's reader counts its publishes in a plain
// field it alone owns (no counter shared between connections), and only
// every SubjectSampleEvery-th publish goes further, taking the account's
// sampler lock to count that subject in a bounded space-saving summary
// (Metwally et al.). The summary keeps subjectCounters counters per time
// window, so memory is bounded however many subjects there are, and the
// heaviest subjects are counted with an error of at most one window's
// samples divided by subjectCounters. Two windows of SubjectWindow each
// (the current and the previous one) give a sliding-window rate.
//
// Only what this broker's clients publish is counted (not messages from
// routes: their own broker counts those), and never the system account.
// Options.NoSubjectSampling turns it off.
const (
	// SubjectSampleEvery is the sampling rate: one in this many published
	// messages of a connection is counted (a power of two).
	SubjectSampleEvery = 64
	// subjectCounters bounds each window's summary; more counters than
	// the subjects reported keep the reported ones accurate.
	subjectCounters = 64
	// SubjectWindow is the length of a counting window; rates are over
	// the last one.
	SubjectWindow = 5 * time.Second
)

// SubjectRate is one subject's estimated publish rate in one account.
type SubjectRate struct {
	Account string
	Subject string
	// Rate is the estimated messages per second over the last window.
	Rate float64
}

// sampleSubject counts one client publish, on the client's reader. Only
// every SubjectSampleEvery-th call does more than an increment.
func (c *client) sampleSubject(acc *account, subject []byte) {
	c.sampleTick++
	if c.sampleTick%SubjectSampleEvery != 0 || acc == c.srv.sysacc || c.srv.o().NoSubjectSampling {
		return
	}
	// The time of the read that brought the message, which the reader
	// noted anyway, stands in for a clock read here.
	acc.topSubjects().add(subject, time.Unix(0, c.lastIn.Load()))
}

// topSubjects returns the account's sampler, creating it on first use
// (so accounts nobody publishes in cost nothing).
func (a *account) topSubjects() *subjectSampler {
	if s := a.subjects.Load(); s != nil {
		return s
	}
	a.subjects.CompareAndSwap(nil, newSubjectSampler(time.Now()))
	return a.subjects.Load()
}

// subjectSampler is one account's two windows of samples. Its lock is
// taken once per SubjectSampleEvery publishes and by readers.
type subjectSampler struct {
	mu      sync.Mutex
	start   time.Time // when cur began
	cur     spaceSaving
	prev    spaceSaving
	hasPrev bool // prev holds a whole window (false until the first ends)
}

func newSubjectSampler(now time.Time) *subjectSampler {
	s := &subjectSampler{start: now}
	s.cur.init()
	s.prev.init()
	return s
}

func (s *subjectSampler) add(subject []byte, now time.Time) {
	s.mu.Lock()
	s.rotateLocked(now)
	s.cur.add(subject)
	s.mu.Unlock()
}

// rotateLocked starts a new window when the current one is over; after
// two idle windows both are empty.
func (s *subjectSampler) rotateLocked(now time.Time) {
	elapsed := now.Sub(s.start)
	if elapsed < SubjectWindow {
		return
	}
	if elapsed >= 2*SubjectWindow {
		s.prev.reset()
		s.cur.reset()
		s.hasPrev = true
		s.start = now
		return
	}
	s.prev, s.cur = s.cur, s.prev
	s.cur.reset()
	s.hasPrev = true
	s.start = s.start.Add(SubjectWindow)
}

// rates estimates each counted subject's rate at now: the current
// window's samples plus the share of the previous window that still lies
// within the last SubjectWindow, scaled by the sampling rate.
func (s *subjectSampler) rates(now time.Time) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotateLocked(now)
	elapsed := now.Sub(s.start)
	out := make(map[string]float64, len(s.cur.ents)+len(s.prev.ents))
	if !s.hasPrev {
		// The first window: the rate since the sampler began (at least
		// one second, so a lone early sample does not read as a flood).
		secs := max(elapsed.Seconds(), 1)
		for _, e := range s.cur.ents {
			out[string(e.subject)] = float64(e.count) * SubjectSampleEvery / secs
		}
		return out
	}
	prevShare := float64(SubjectWindow-elapsed) / float64(SubjectWindow)
	for _, e := range s.prev.ents {
		out[string(e.subject)] += float64(e.count) * prevShare
	}
	for _, e := range s.cur.ents {
		out[string(e.subject)] += float64(e.count)
	}
	for k, v := range out {
		out[k] = v * SubjectSampleEvery / SubjectWindow.Seconds()
	}
	return out
}

// spaceSaving is a space-saving summary: at most subjectCounters
// counters; a new subject when all are taken replaces the smallest and
// inherits its count (so counts overestimate by at most that count).
//
// Subjects are found by a 64-bit hash and kept in buffers the entries
// reuse, so replacing one allocates nothing (two subjects of one window
// sharing a hash, at odds of 2^-64, would share a counter).
type spaceSaving struct {
	seed maphash.Seed
	idx  map[uint64]int // subject hash to its index in ents
	ents []ssEntry
	// min is no more than the smallest count once ents is full, and
	// cursor where the search for an entry at min goes on: counts only
	// grow, so an entry found at min is a smallest one, and when every
	// subject is new (reply subjects) the next one is usually adjacent.
	min    int64
	cursor int
}

type ssEntry struct {
	hash    uint64
	subject []byte
	count   int64
}

func (s *spaceSaving) init() {
	s.seed = maphash.MakeSeed()
	s.idx = make(map[uint64]int, subjectCounters)
	s.ents = make([]ssEntry, 0, subjectCounters)
}

func (s *spaceSaving) reset() {
	clear(s.idx)
	s.ents = s.ents[:0]
	s.min, s.cursor = 0, 0
}

func (s *spaceSaving) add(subject []byte) {
	h := maphash.Bytes(s.seed, subject)
	if i, ok := s.idx[h]; ok {
		s.ents[i].count++
		return
	}
	if len(s.ents) < cap(s.ents) {
		// A slot another window used before keeps its buffer.
		s.ents = s.ents[:len(s.ents)+1]
		e := &s.ents[len(s.ents)-1]
		e.hash, e.subject, e.count = h, append(e.subject[:0], subject...), 1
		s.idx[h] = len(s.ents) - 1
		return
	}
	m := s.smallest()
	e := &s.ents[m]
	delete(s.idx, e.hash)
	e.hash, e.subject, e.count = h, append(e.subject[:0], subject...), e.count+1
	s.idx[h] = m
}

// smallest returns the index of an entry with the smallest count, ents
// being full.
func (s *spaceSaving) smallest() int {
	n := len(s.ents)
	for range n {
		s.cursor = (s.cursor + 1) % n
		if s.ents[s.cursor].count <= s.min {
			return s.cursor
		}
	}
	// None is left at min: find the new one.
	m := 0
	for i := 1; i < n; i++ {
		if s.ents[i].count < s.ents[m].count {
			m = i
		}
	}
	s.min, s.cursor = s.ents[m].count, m
	return m
}

// TopSubjects returns up to perAccount subjects of each account (the
// system account excluded) by estimated publish rate, highest first
// across all accounts. It is empty while sampling is off.
func (s *Server) TopSubjects(perAccount int) []SubjectRate {
	if s.o().NoSubjectSampling {
		return nil
	}
	now := time.Now()
	var out []SubjectRate
	for _, a := range s.accountList() {
		ss := a.subjects.Load()
		if ss == nil || a == s.sysacc {
			continue
		}
		var acc []SubjectRate
		for subj, r := range ss.rates(now) {
			if r > 0 {
				acc = append(acc, SubjectRate{Account: a.name, Subject: subj, Rate: r})
			}
		}
		sortRates(acc)
		if len(acc) > perAccount {
			acc = acc[:perAccount]
		}
		out = append(out, acc...)
	}
	sortRates(out)
	return out
}

func sortRates(r []SubjectRate) {
	sort.Slice(r, func(i, j int) bool {
		if r[i].Rate != r[j].Rate {
			return r[i].Rate > r[j].Rate
		}
		if r[i].Account != r[j].Account {
			return r[i].Account < r[j].Account
		}
		return r[i].Subject < r[j].Subject
	})
}
