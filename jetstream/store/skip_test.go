package store

import (
	"path/filepath"
	"testing"
)

// TestSkip: skipped sequences hold no message, count as deleted inside
// the stream, move the first sequence at the front, and survive a
// reopen of the file store.
func TestSkip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	openFile := func() Store {
		fs, err := OpenFile(dir, 256)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	for name, open := range map[string]func() Store{"memory": func() Store { return NewMemory() }, "file": openFile} {
		t.Run(name, func(t *testing.T) {
			s := open()
			if last, err := s.Skip(3); err != nil || last != 3 {
				t.Fatalf("skip on empty: %d %v", last, err)
			}
			if st := s.State(); st.FirstSeq != 4 || st.LastSeq != 3 || st.Msgs != 0 {
				t.Fatalf("after front skip: %+v", st)
			}
			if seq, _ := s.Append("a", nil, []byte("x"), 1); seq != 4 {
				t.Fatalf("append after skip: seq %d", seq)
			}
			if last, _ := s.Skip(2); last != 6 {
				t.Fatalf("skip inside: %d", last)
			}
			if seq, _ := s.Append("a", nil, []byte("y"), 2); seq != 7 {
				t.Fatalf("append after inner skip: seq %d", seq)
			}
			want := State{Msgs: 2, FirstSeq: 4, LastSeq: 7, Deleted: 2}
			check := func(s Store) {
				t.Helper()
				st := s.State()
				if st.Msgs != want.Msgs || st.FirstSeq != want.FirstSeq || st.LastSeq != want.LastSeq || st.Deleted != want.Deleted {
					t.Fatalf("state %+v, want %+v", st, want)
				}
				if _, err := s.Load(5); err == nil {
					t.Fatal("a skipped sequence loads")
				}
			}
			check(s)
			s.Remove(4)
			s.Remove(7)
			s.Skip(1)
			want = State{FirstSeq: 9, LastSeq: 8}
			check(s)
			if name == "file" {
				s.Close()
				s = openFile()
				check(s)
				if seq, _ := s.Append("b", nil, nil, 3); seq != 9 {
					t.Fatalf("append after reopen: seq %d", seq)
				}
			}
			s.Close()
		})
	}
}
