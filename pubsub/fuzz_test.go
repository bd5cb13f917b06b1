package pubsub

import (
	"slices"
	"testing"
)

// FuzzMatch checks Sublist against a brute force over every inserted
// pattern with SubjectMatches, through a fuzzer-chosen sequence of inserts,
// removes and matches (so the match cache is exercised and must be
// invalidated exactly right), plus one raw pattern and one raw subject of
// arbitrary bytes.
//
// ops is read four bytes at a time: kind, shape, tokens, value. Patterns and
// subjects have 1-4 tokens drawn from a tiny alphabet so they collide often.
//
// The seed corpus is in testdata/fuzz/FuzzMatch; run
//
//	go test -fuzz=FuzzMatch -fuzztime=60s ./pubsub/
func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 3, 0, 0, 0}, "foo.*", "foo.bar")
	f.Add([]byte{0, 1, 0x4, 1, 0, 2, 0xc0, 2, 3, 1, 0, 0, 2, 1, 0x4, 1, 3, 1, 0, 0}, ">", "a.b")
	f.Add([]byte{0, 0x13, 0x1b, 5, 1, 0x23, 0x2e, 6, 3, 3, 0x00, 0, 3, 2, 0x11, 0}, "a.>.b", "a..b")
	f.Add([]byte{}, "foo bar", "foo.")
	f.Fuzz(func(t *testing.T, ops []byte, pattern, subject string) {
		s := NewSublist[int]()
		var model []entry

		err := s.Insert(pattern, "", -1)
		if (err == nil) != ValidSubject(pattern) {
			t.Fatalf("Insert(%q) = %v, ValidSubject = %v", pattern, err, ValidSubject(pattern))
		}
		if err == nil {
			model = append(model, entry{pattern, "", -1})
		}

		check := func(subj string) {
			t.Helper()
			for range 2 { // miss, then cached
				got := normalize(s.Match([]byte(subj)))
				if want := bruteForce(model, subj); !equalNormal(got, want) {
					t.Fatalf("Match(%q) = %s, brute force %s (index %v)", subj, got, want, model)
				}
			}
		}

		for ; len(ops) >= 4; ops = ops[4:] {
			kind, shape, toks, v := ops[0]%4, ops[1], ops[2], int(ops[3]%8)
			alphabet := []string{"a", "b", "*", ">"}
			if kind == 3 {
				alphabet[3] = "c" // subjects are literal ('*' stays a plain token)
			}
			subj := ""
			for i := range 1 + int(shape%4) {
				if i > 0 {
					subj += "."
				}
				subj += alphabet[(toks>>(2*i))&3]
			}
			queue := []string{"", "q", "r", ""}[(shape>>2)&3]
			switch kind {
			case 0, 1:
				err := s.Insert(subj, queue, v)
				if (err == nil) != ValidSubject(subj) {
					t.Fatalf("Insert(%q) = %v, ValidSubject = %v", subj, err, ValidSubject(subj))
				}
				if err == nil {
					model = append(model, entry{subj, queue, v})
				}
			case 2:
				i := slices.Index(model, entry{subj, queue, v})
				if got := s.Remove(subj, queue, v); got != (i >= 0) {
					t.Fatalf("Remove(%q, %q, %d) = %v, want %v", subj, queue, v, got, i >= 0)
				}
				if i >= 0 {
					model = slices.Delete(model, i, i+1)
				}
			case 3:
				check(subj)
			}
			if s.Count() != len(model) {
				t.Fatalf("Count = %d, want %d", s.Count(), len(model))
			}
		}
		check(subject)
		// Everything removed leaves an empty trie.
		for _, e := range model {
			if !s.Remove(e.subject, e.queue, e.v) {
				t.Fatalf("final Remove(%q, %q, %d) = false", e.subject, e.queue, e.v)
			}
		}
		if !s.root.empty() {
			t.Fatalf("trie not pruned after removing everything")
		}
		model = nil
		check(subject)
	})
}
