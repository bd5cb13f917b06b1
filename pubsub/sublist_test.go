package pubsub

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestValidSubject(t *testing.T) {
	cases := []struct {
		s              string
		valid, literal bool
	}{
		{"foo", true, true},
		{"foo.bar.baz", true, true},
		{"*", true, false},
		{">", true, false},
		{"foo.*", true, false},
		{"*.bar", true, false},
		{"foo.>", true, false},
		{"*.*.>", true, false},
		{"foo*.bar", true, true}, // a wildcard only when it is the whole token
		{"foo.b>r", true, true},
		{"foo.>>", true, true},
		{"_INBOX.abc-123", true, true},
		{"ünï.cødé", true, true},
		{"", false, false},
		{".", false, false},
		{"..", false, false},
		{".foo", false, false},
		{"foo.", false, false},
		{"foo..bar", false, false},
		{"foo.>.bar", false, false},
		{">.foo", false, false},
		{"foo bar", false, false},
		{"foo\tbar", false, false},
		{"foo\r", false, false},
		{"foo\n.bar", false, false},
		{"\ffoo", false, false},
		{"foo.\x00", false, false},
		{" ", false, false},
	}
	for _, tc := range cases {
		if got := ValidSubject(tc.s); got != tc.valid {
			t.Errorf("ValidSubject(%q) = %v, want %v", tc.s, got, tc.valid)
		}
		if got := ValidLiteralSubject(tc.s); got != tc.literal {
			t.Errorf("ValidLiteralSubject(%q) = %v, want %v", tc.s, got, tc.literal)
		}
	}
}

func TestValidQueueName(t *testing.T) {
	for q, want := range map[string]bool{
		"workers": true, "a.b.*": true, "q>": true,
		"": false, "a b": false, "a\tb": false, "a\n": false, "\x00": false,
	} {
		if got := ValidQueueName(q); got != want {
			t.Errorf("ValidQueueName(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	cases := []struct {
		pattern, subject string
		want             bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo", "foo.bar", false},
		{"foo.bar", "foo", false},
		{"foo.bar", "foo.bar", true},
		{"*", "foo", true},
		{"*", "foo.bar", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar.baz", false},
		{"*.bar", "foo.bar", true},
		{"*.*", "a.b", true},
		{">", "foo", true},
		{">", "foo.bar.baz", true},
		{"foo.>", "foo", false},
		{"foo.>", "foo.bar", true},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "bar.baz", false},
		{"*.>", "a.b", true},
		{"*.>", "a", false},
		{"foo.*.baz", "foo.bar.baz", true},
		{"foo.*.baz", "foo.bar.bax", false},
		{"foo*", "foox", false},
		{"foo*", "foo*", true},
		{"foo.bar", "foo.*", false}, // a literal '*' in a subject is just a token
		{"foo.*", "foo.*", true},
	}
	for _, tc := range cases {
		if got := SubjectMatches(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("SubjectMatches(%q, %q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
		}
	}
}

// entry is one inserted value, for building indexes and brute-force answers.
type entry struct {
	subject, queue string
	v              int
}

// normal is a Result in a canonical form: values sorted, groups by name.
type normal struct {
	plain  []int
	queues map[string][]int
}

func (n normal) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plain %v", n.plain)
	for _, name := range slices.Sorted(maps.Keys(n.queues)) {
		fmt.Fprintf(&b, " %s:%v", name, n.queues[name])
	}
	return b.String()
}

func normalize(r *Result[int]) normal {
	n := normal{plain: slices.Sorted(slices.Values(r.Plain)), queues: map[string][]int{}}
	for _, g := range r.Queues {
		if _, dup := n.queues[g.Name]; dup {
			n.queues[g.Name+" (DUPLICATE GROUP)"] = nil
		}
		n.queues[g.Name] = slices.Sorted(slices.Values(g.Members))
	}
	return n
}

// bruteForce is what Match must return: every entry whose pattern matches.
func bruteForce(entries []entry, subject string) normal {
	n := normal{queues: map[string][]int{}}
	if !validPublishTokens([]byte(subject)) {
		return n // no subscription matches a subject with an empty token
	}
	for _, e := range entries {
		if !SubjectMatches(e.subject, subject) {
			continue
		}
		if e.queue == "" {
			n.plain = append(n.plain, e.v)
		} else {
			n.queues[e.queue] = append(n.queues[e.queue], e.v)
		}
	}
	slices.Sort(n.plain)
	for _, m := range n.queues {
		slices.Sort(m)
	}
	return n
}

func equalNormal(a, b normal) bool {
	if len(a.plain) != len(b.plain) || !slices.Equal(a.plain, b.plain) {
		return false
	}
	return maps.EqualFunc(a.queues, b.queues, slices.Equal[[]int])
}

func fill(t testing.TB, s *Sublist[int], entries []entry) {
	t.Helper()
	for _, e := range entries {
		if err := s.Insert(e.subject, e.queue, e.v); err != nil {
			t.Fatalf("Insert(%q, %q, %d): %v", e.subject, e.queue, e.v, err)
		}
	}
}

var matchEntries = []entry{
	{"foo", "", 1},
	{"foo.bar", "", 2},
	{"foo.*", "", 3},
	{"foo.>", "", 4},
	{"*.bar", "", 5},
	{">", "", 6},
	{"foo.bar.baz", "", 7},
	{"*.*.baz", "", 8},
	{"foo.bar", "", 9},
	{"foo.bar", "workers", 10},
	{"foo.*", "workers", 11},
	{">", "workers", 12},
	{"foo.>", "others", 13},
	{"foo.bar", "others", 14},
	{"bar.*", "workers", 15},
	{"foo*", "", 16},
	{"foo.bar", "", 2}, // the same value twice is two entries
}

func TestMatch(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, matchEntries)
	cases := []struct {
		subject string
		want    string
	}{
		{"foo", "plain [1 6] workers:[12]"},
		{"foo.bar", "plain [2 2 3 4 5 6 9] others:[13 14] workers:[10 11 12]"},
		{"foo.baz", "plain [3 4 6] others:[13] workers:[11 12]"},
		{"foo.bar.baz", "plain [4 6 7 8] others:[13] workers:[12]"},
		{"x.y.baz", "plain [6 8] workers:[12]"},
		{"bar.bar", "plain [5 6] workers:[12 15]"},
		{"foo*", "plain [6 16] workers:[12]"},
		{"foox", "plain [6] workers:[12]"},
		{"a.b.c.d.e", "plain [6] workers:[12]"},
		{"foo.*", "plain [3 4 6] others:[13] workers:[11 12]"}, // literal '*' token
		// No subscription matches a subject with empty tokens.
		{"", "plain []"},
		{"foo.", "plain []"},
		{".foo", "plain []"},
		{"foo..bar", "plain []"},
	}
	for _, tc := range cases {
		for _, round := range []string{"miss", "cached"} {
			got := normalize(s.Match([]byte(tc.subject)))
			if got.String() != tc.want {
				t.Errorf("%s Match(%q) = %s, want %s", round, tc.subject, got, tc.want)
			}
			if want := bruteForce(matchEntries, tc.subject); !equalNormal(got, want) {
				t.Errorf("%s Match(%q) = %s, brute force %s", round, tc.subject, got, want)
			}
		}
	}
	if !s.Match([]byte("foo..bar")).Empty() || s.Match([]byte("foo")).Empty() {
		t.Errorf("Empty() wrong")
	}
	if got, want := s.Count(), len(matchEntries); got != want {
		t.Errorf("Count = %d, want %d", got, want)
	}
}

// TestQueueGroupsMergedByName: members of one group name found through
// different patterns come back as one group.
func TestQueueGroupsMergedByName(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{
		{"a.b.c", "g", 1}, {"a.*.c", "g", 2}, {"a.>", "g", 3}, {">", "g", 4}, {"*.b.*", "g", 5},
		{"a.b.c", "h", 6}, {"a.>", "h", 7},
	})
	r := s.Match([]byte("a.b.c"))
	if len(r.Queues) != 2 {
		t.Fatalf("got %d groups, want 2: %+v", len(r.Queues), r.Queues)
	}
	if got := normalize(r).String(); got != "plain [] g:[1 2 3 4 5] h:[6 7]" {
		t.Errorf("Match = %s", got)
	}
}

func TestInsertInvalid(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"foo.bar", "", 1}})
	before := normalize(s.Match([]byte("foo.bar"))).String()
	bad := []entry{
		{"", "", 2}, {"foo..bar", "", 2}, {"foo.>.bar", "", 2}, {".foo", "", 2}, {"foo.", "", 2},
		{"foo bar", "", 2}, {"foo.\tbar", "", 2}, {"foo.bar\n", "", 2}, {">.>", "", 2},
		{"foo.bar", "bad queue", 2}, {"foo.bar", "q\t", 2}, {"foo.bar", "\n", 2},
	}
	for _, e := range bad {
		if err := s.Insert(e.subject, e.queue, e.v); err != ErrInvalidSubject {
			t.Errorf("Insert(%q, %q) = %v, want ErrInvalidSubject", e.subject, e.queue, err)
		}
	}
	if n := s.Count(); n != 1 {
		t.Errorf("Count = %d after rejected inserts, want 1", n)
	}
	if after := normalize(s.Match([]byte("foo.bar"))).String(); after != before {
		t.Errorf("Match changed by rejected inserts: %s, was %s", after, before)
	}
}

func TestRemove(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, matchEntries)
	n := len(matchEntries)
	misses := []entry{
		{"foo.bar", "", 99},        // value not there
		{"foo.bar", "nope", 2},     // group not there
		{"foo.bar", "workers", 11}, // value in another node
		{"foo.bar", "others", 10},  // value in another group
		{"foo.baz", "", 2},         // node not there
		{"foo.bar.baz.qux", "", 7}, // deeper than the index
		{"nope.bar", "", 2},        // first token not there
		{"foo..bar", "", 2},        // invalid
		{"", "", 1},                // invalid
		{"*", "", 6},               // pwc node not there
	}
	for _, e := range misses {
		if s.Remove(e.subject, e.queue, e.v) {
			t.Errorf("Remove(%q, %q, %d) = true, want false", e.subject, e.queue, e.v)
		}
	}
	if s.Count() != n {
		t.Fatalf("Count = %d after failed removes, want %d", s.Count(), n)
	}
	// Remove everything in a scrambled order, checking Match against brute
	// force after every step.
	left := slices.Clone(matchEntries)
	subjects := []string{"foo", "foo.bar", "foo.baz", "foo.bar.baz", "bar.bar", "foo*", "x.y.baz"}
	for k := 0; len(left) > 0; k++ {
		i := (k * 7) % len(left)
		e := left[i]
		left = slices.Delete(left, i, i+1)
		if !s.Remove(e.subject, e.queue, e.v) {
			t.Fatalf("Remove(%q, %q, %d) = false", e.subject, e.queue, e.v)
		}
		n--
		if s.Count() != n {
			t.Fatalf("Count = %d, want %d", s.Count(), n)
		}
		for _, subj := range subjects {
			if got, want := normalize(s.Match([]byte(subj))), bruteForce(left, subj); !equalNormal(got, want) {
				t.Fatalf("after removing %v: Match(%q) = %s, want %s", e, subj, got, want)
			}
		}
	}
	if !s.root.empty() || len(s.root.nodes) != 0 {
		t.Errorf("root not pruned after removing everything: %+v", s.root)
	}
}

// TestRemovePrunes: removing the last value under a node drops the node and
// every ancestor left empty, and nothing else.
func TestRemovePrunes(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"a", "", 1}, {"a.b.c.d", "", 2}, {"a.b.*", "", 3}, {"x.>", "q", 4}})

	s.Remove("a.b.c.d", "", 2)
	b := s.root.nodes["a"].next.nodes["b"]
	if b == nil || b.next.nodes["c"] != nil {
		t.Fatalf("a.b.c should be pruned and a.b kept (a.b.* lives there)")
	}
	if b.next.pwc == nil {
		t.Fatalf("a.b.* pruned by mistake")
	}
	s.Remove("a.b.*", "", 3)
	if a := s.root.nodes["a"]; a == nil || a.next != nil && a.next.nodes["b"] != nil {
		t.Fatalf("a.b should be pruned, a kept")
	}
	s.Remove("a", "", 1)
	if s.root.nodes["a"] != nil {
		t.Fatalf("a should be pruned")
	}
	s.Remove("x.>", "q", 4)
	if !s.root.empty() {
		t.Fatalf("root should be empty: %+v", s.root)
	}
	// A removed group leaves no empty group behind.
	fill(t, s, []entry{{"q", "g1", 1}, {"q", "g2", 2}})
	s.Remove("q", "g1", 1)
	if n := s.root.nodes["q"]; n == nil || len(n.queues) != 1 || n.queues[0].Name != "g2" {
		t.Fatalf("want only group g2 left under q, got %+v", n)
	}
}

// TestMatchResultStable: a Result already handed out is not changed by later
// inserts and removes (callers read it without the lock).
func TestMatchResultStable(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"a", "", 1}, {"a", "", 2}, {"a", "", 3}, {"a", "g", 4}, {"a", "g", 5}})
	r := s.Match([]byte("a"))
	before := normalize(r).String()
	s.Remove("a", "", 1)
	s.Remove("a", "g", 4)
	s.Insert("a", "", 6)
	s.Insert("a", "g", 7)
	if after := normalize(r).String(); after != before {
		t.Errorf("result changed under the caller: %s, was %s", after, before)
	}
	if got := normalize(s.Match([]byte("a"))).String(); got != "plain [2 3 6] g:[5 7]" {
		t.Errorf("fresh Match = %s", got)
	}
}

// TestCacheInvalidation: after Match caches a subject, an insert or remove of
// a matching pattern shows in the next Match, and a pattern that does not
// match leaves the cached result in place.
func TestCacheInvalidation(t *testing.T) {
	patterns := []string{"foo.bar", "foo.*", "*.bar", "foo.>", ">", "*.*"}
	others := []string{"foo.baz", "foo", "foo.bar.baz", "*.baz", "bar.>", "*.*.*", "foo.bar.>"}
	subject := []byte("foo.bar")
	for _, pat := range patterns {
		for _, queue := range []string{"", "g"} {
			s := NewSublist[int]()
			fill(t, s, []entry{{"foo.bar", "", 1}})
			if got := normalize(s.Match(subject)).String(); got != "plain [1]" {
				t.Fatalf("initial Match = %s", got)
			}
			fill(t, s, []entry{{pat, queue, 2}})
			want := "plain [1 2]"
			if queue != "" {
				want = "plain [1] g:[2]"
			}
			if got := normalize(s.Match(subject)).String(); got != want {
				t.Errorf("after Insert(%q, %q): Match = %s, want %s", pat, queue, got, want)
			}
			if !s.Remove(pat, queue, 2) {
				t.Fatalf("Remove(%q, %q) failed", pat, queue)
			}
			if got := normalize(s.Match(subject)).String(); got != "plain [1]" {
				t.Errorf("after Remove(%q, %q): Match = %s, want plain [1]", pat, queue, got)
			}
		}
	}
	// Non-matching patterns keep the cached entry: the very same result.
	s := NewSublist[int]()
	fill(t, s, []entry{{"foo.bar", "", 1}})
	s.Match(subject) // first miss: answered, not cached
	r := s.Match(subject)
	for i, pat := range others {
		fill(t, s, []entry{{pat, "", 10 + i}})
		if s.Match(subject) != r {
			t.Errorf("Insert(%q) invalidated the cached foo.bar", pat)
		}
		s.Remove(pat, "", 10+i)
		if s.Match(subject) != r {
			t.Errorf("Remove(%q) invalidated the cached foo.bar", pat)
		}
	}
	var c MatchCount
	s.MatchCounted(subject, &c)
	if st := s.Stats(); c.Hits != 1 || st.CacheEntries != 1 {
		t.Errorf("Stats = %+v, count %+v, want a hit and one cache entry", st, c)
	}
}

// TestOneShotSubjectsNotCached: a subject seen once (a reply to a unique
// inbox) is answered without entering the cache; seen twice, it is cached.
func TestOneShotSubjectsNotCached(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"_INBOX.*", "", 1}})
	for i := range 100 {
		if got := s.Match([]byte(fmt.Sprintf("_INBOX.%d", i))); len(got.Plain) != 1 {
			t.Fatalf("one-shot match %d: %v", i, got.Plain)
		}
	}
	if n := s.Stats().CacheEntries; n != 0 {
		t.Fatalf("%d one-shot subjects cached", n)
	}
	// Seen twice in a row, a subject is cached. (Re-matching an earlier
	// subject is not deterministic: a later one-shot may share its slot.)
	s.Match([]byte("_INBOX.again"))
	s.Match([]byte("_INBOX.again"))
	if n := s.Stats().CacheEntries; n != 1 {
		t.Fatalf("repeated subject not cached (%d entries)", n)
	}
}

// TestCacheBounded: the cache stays within cacheMax and evicted subjects are
// recomputed correctly.
func TestCacheBounded(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"s.*", "", 1}, {"s.7", "", 2}})
	for round := range 2 {
		for i := range 3 * cacheMax {
			subj := fmt.Sprintf("s.%d", i)
			got := normalize(s.Match([]byte(subj)))
			want := bruteForce([]entry{{"s.*", "", 1}, {"s.7", "", 2}}, subj)
			if !equalNormal(got, want) {
				t.Fatalf("round %d: Match(%q) = %s, want %s", round, subj, got, want)
			}
			if n := s.Stats().CacheEntries; n > cacheMax {
				t.Fatalf("cache holds %d entries, max %d", n, cacheMax)
			}
		}
	}
}

func TestStats(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"a", "", 1}, {"b", "", 2}})
	s.Remove("a", "", 1)
	s.Remove("a", "", 1) // not there: not counted
	var c MatchCount
	s.MatchCounted([]byte("b"), &c) // first miss: not cached
	s.MatchCounted([]byte("b"), &c) // second miss: cached
	s.MatchCounted([]byte("b"), &c) // hit
	s.MatchCounted([]byte("c"), &c)
	want := Stats{Count: 1, CacheEntries: 1, Inserts: 2, Removes: 1}
	if got := s.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if c != (MatchCount{Matches: 4, Hits: 1}) {
		t.Errorf("counted %+v, want 4 matches, 1 hit", c)
	}
}

// TestConcurrent runs inserts, removes and matches from many goroutines
// (meant for -race). Each goroutine owns its values, so it can check that
// its own insert is visible to its next Match and its remove gone from it,
// whatever the others do to the cache meanwhile.
func TestConcurrent(t *testing.T) {
	s := NewSublist[int]()
	fill(t, s, []entry{{"shared.>", "", -1}, {"shared.*.x", "g", -2}})
	const workers, rounds = 8, 300
	patterns := []string{"shared.%d.x", "shared.*.x", "shared.>", ">", "*.%d.x"}
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Go(func() {
			subj := []byte(fmt.Sprintf("shared.%d.x", w))
			for i := range rounds {
				pat := patterns[i%len(patterns)]
				if strings.Contains(pat, "%d") {
					pat = fmt.Sprintf(pat, w)
				}
				queue := ""
				if i%3 == 0 {
					queue = "g"
				}
				v := w*rounds + i
				if err := s.Insert(pat, queue, v); err != nil {
					errs <- err.Error()
					return
				}
				if !contains(s.Match(subj), v) {
					errs <- fmt.Sprintf("worker %d: own insert %q/%q not visible", w, pat, queue)
					return
				}
				s.Match([]byte("shared.other.x"))
				if !s.Remove(pat, queue, v) {
					errs <- fmt.Sprintf("worker %d: Remove(%q, %q) = false", w, pat, queue)
					return
				}
				if contains(s.Match(subj), v) {
					errs <- fmt.Sprintf("worker %d: removed %q/%q still matched", w, pat, queue)
					return
				}
				_ = s.Count()
				_ = s.Stats()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := s.Count(); n != 2 {
		t.Errorf("Count = %d at the end, want 2", n)
	}
	if got := normalize(s.Match([]byte("shared.1.x"))).String(); got != "plain [-1] g:[-2]" {
		t.Errorf("Match at the end = %s", got)
	}
}

func contains(r *Result[int], v int) bool {
	if slices.Contains(r.Plain, v) {
		return true
	}
	for _, g := range r.Queues {
		if slices.Contains(g.Members, v) {
			return true
		}
	}
	return false
}

// benchIndex builds a wildcard-heavy index of n subscriptions over subjects
// shaped like "svc.<a>.<b>.<c>": a quarter literal, the rest with '*' or '>'
// at various depths, a tenth in queue groups.
func benchIndex(b *testing.B, n int) *Sublist[int] {
	b.Helper()
	s := NewSublist[int]()
	for i := range n {
		a, bb, c := i%50, (i/50)%200, i%997
		var subj string
		switch i % 4 {
		case 0:
			subj = fmt.Sprintf("svc.%d.%d.%d", a, bb, c)
		case 1:
			subj = fmt.Sprintf("svc.%d.*.%d", a, c)
		case 2:
			subj = fmt.Sprintf("svc.*.%d.>", bb)
		case 3:
			subj = fmt.Sprintf("svc.%d.%d.*", a, bb)
		}
		queue := ""
		if i%10 == 0 {
			queue = fmt.Sprintf("q%d", i%7)
		}
		if err := s.Insert(subj, queue, i); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchSubjects(n int) [][]byte {
	subjects := make([][]byte, n)
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "svc.%d.%d.%d", (i*7)%50, (i*13)%200, (i*31)%997)
	}
	return subjects
}

// BenchmarkMatchCached: the hot path, a publisher repeating a few subjects
// against 100k subscriptions.
func BenchmarkMatchCached(b *testing.B) {
	s := benchIndex(b, 100_000)
	subjects := benchSubjects(16)
	for _, subj := range subjects {
		s.Match(subj)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Match(subjects[i%len(subjects)])
		i++
	}
}

// BenchmarkMatchMiss: many distinct subjects, far more than the cache
// holds, so nearly every Match walks the trie.
func BenchmarkMatchMiss(b *testing.B) {
	s := benchIndex(b, 100_000)
	subjects := benchSubjects(50_000)
	b.ReportAllocs()
	i := 0
	matched := 0
	for b.Loop() {
		r := s.Match(subjects[i%len(subjects)])
		matched += len(r.Plain)
		i++
	}
	b.ReportMetric(float64(matched)/float64(i), "subs/match")
}

// BenchmarkInsertRemove: subscribe and unsubscribe one wildcard
// subscription against 100k others, with a warm cache to invalidate.
func BenchmarkInsertRemove(b *testing.B) {
	s := benchIndex(b, 100_000)
	for _, subj := range benchSubjects(cacheMax / 2) {
		s.Match(subj)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Insert("svc.3.*.>", "", -1); err != nil {
			b.Fatal(err)
		}
		if !s.Remove("svc.3.*.>", "", -1) {
			b.Fatal("remove failed")
		}
	}
}

// BenchmarkMatchParallel: BenchmarkMatchCached from GOMAXPROCS goroutines
// at once (run with -cpu 1,2,4,8): what they share is the read lock and
// the match counters.
func BenchmarkMatchParallel(b *testing.B) {
	s := benchIndex(b, 100_000)
	subjects := benchSubjects(16)
	for _, subj := range subjects {
		s.Match(subj)
		s.Match(subj)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Match(subjects[i%len(subjects)])
			i++
		}
	})
}
