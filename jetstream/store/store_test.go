package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func stores(t *testing.T) map[string]func() Store {
	dir := t.TempDir()
	return map[string]func() Store{
		"memory": func() Store { return NewMemory() },
		"file": func() Store {
			fs, err := OpenFile(filepath.Join(dir, "s"), 256) // tiny segments: rolls often
			if err != nil {
				t.Fatal(err)
			}
			return fs
		},
	}
}

func TestStoreOperations(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			defer s.Close()
			for i := 0; i < 20; i++ {
				subj := "a"
				if i%2 == 1 {
					subj = "b.x"
				}
				seq, err := s.Append(subj, []byte("NATS/1.0\r\n\r\n"), []byte{byte(i)}, int64(i))
				if err != nil || seq != uint64(i+1) {
					t.Fatalf("append %d: seq %d err %v", i, seq, err)
				}
			}
			if m, err := s.Load(5); err != nil || m.Data[0] != 4 || m.Subject != "a" {
				t.Fatalf("load 5: %+v %v", m, err)
			}
			if m, err := s.Next(3, "b.*"); err != nil || m.Seq != 4 {
				t.Fatalf("next: %+v %v", m, err)
			}
			if m, err := s.Last("a"); err != nil || m.Seq != 19 {
				t.Fatalf("last: %+v %v", m, err)
			}
			if ok, _ := s.Remove(1); !ok {
				t.Fatal("remove 1")
			}
			if ok, _ := s.Remove(1); ok {
				t.Fatal("remove 1 twice")
			}
			if _, err := s.Load(1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("load removed: %v", err)
			}
			if n, _ := s.Purge("a", 0, 2); n != 7 {
				t.Fatalf("purge a keep 2 removed %d", n)
			}
			st := s.State()
			if st.Msgs != 12 || st.FirstSeq != 2 || st.LastSeq != 20 || s.SubjectCount("a") != 2 {
				t.Fatalf("state %+v a=%d", st, s.SubjectCount("a"))
			}
			if n, _ := s.Purge("", 0, 0); n != 12 {
				t.Fatalf("purge all removed %d", n)
			}
			if seq, _ := s.Append("c", nil, nil, 0); seq != 21 {
				t.Fatalf("after purge seq %d", seq)
			}
		})
	}
}

func TestFileStoreRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	fs, err := OpenFile(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		fs.Append("x", nil, []byte("hello"), 1)
	}
	fs.Remove(30)
	fs.Purge("", 11, 0) // 1..10 gone
	fs.Close()

	fs, err = OpenFile(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	st := fs.State()
	if st.Msgs != 19 || st.FirstSeq != 11 || st.LastSeq != 30 {
		t.Fatalf("reopened state %+v", st)
	}
	fs.Append("x", nil, []byte("torn"), 2) // seq 31
	fs.Close()
	// Tear the last record of the newest segment.
	names, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	last := names[len(names)-1]
	info, _ := os.Stat(last)
	if err := os.Truncate(last, info.Size()-3); err != nil {
		t.Fatal(err)
	}
	fs, err = OpenFile(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if fs.Recovered == "" {
		t.Fatal("a torn record was not reported")
	}
	if st := fs.State(); st.LastSeq != 30 || st.Msgs != 19 {
		t.Fatalf("after torn tail %+v", st)
	}
	if seq, _ := fs.Append("x", nil, nil, 3); seq != 31 {
		t.Fatalf("next seq after repair %d", seq)
	}
	if m, err := fs.Load(11); err != nil || string(m.Data) != "hello" {
		t.Fatalf("load 11 %+v %v", m, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, &record{typ: recMsg, seq: 7, ts: 9, subj: "a.b", hdr: []byte("NATS/1.0\r\n\r\n"), data: []byte("x")}))
	f.Add(appendRecord(nil, &record{typ: recFirst, seq: 3}))
	f.Add(appendRecord(nil, &record{typ: recBareMsg, seq: 8, ts: 10, subj: "a", data: []byte("y")}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("length %d beyond %d", n, len(b))
		}
		r.subj = string(r.subjRaw)
		again := appendRecord(nil, &r)
		if string(again) != string(b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
