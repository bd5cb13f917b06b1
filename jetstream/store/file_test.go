package store

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// copyDir copies a store directory as it is on disk right now: what a
// broker killed with -9 at this moment would leave behind.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(src, "*"))
	for _, n := range names {
		in, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, filepath.Base(n)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// TestFileStoreFlushIsTheWriteAhead checks the order the engine relies on:
// an appended message is in the files once Flush returns (it survives the
// process dying, without Close), and not before.
func TestFileStoreFlushIsTheWriteAhead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	fs, err := OpenFile(dir, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for i := range 40 { // several segments of 1 KiB
		if _, err := fs.Append("a.b", nil, bytes.Repeat([]byte{byte(i)}, 50), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Append("a.b", []byte("NATS/1.0\r\nX: y\r\n\r\n"), []byte("unflushed"), 41); err != nil {
		t.Fatal(err)
	}
	crashed, err := OpenFile(copyDir(t, dir), 1024)
	if err != nil {
		t.Fatal(err)
	}
	st := crashed.State()
	crashed.Close()
	if st.Msgs != 40 || st.LastSeq != 40 {
		t.Fatalf("before Flush, the copy holds %+v; want the 40 flushed messages only", st)
	}
	if err := fs.Flush(); err != nil {
		t.Fatal(err)
	}
	crashed, err = OpenFile(copyDir(t, dir), 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()
	m, err := crashed.Load(41)
	if err != nil || string(m.Data) != "unflushed" || string(m.Hdr) != "NATS/1.0\r\nX: y\r\n\r\n" {
		t.Fatalf("after Flush, load 41 from the copy: %+v %v", m, err)
	}
	if crashed.Recovered != "" {
		t.Fatalf("a flushed store needed repair: %s", crashed.Recovered)
	}
}

// TestFileStoreReads reads a many-segment store in order, backwards and at
// random, before and after reopening, with and without headers: every
// message comes back whole, whichever segment is held in memory.
func TestFileStoreReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	fs, err := OpenFile(dir, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	want := func(seq uint64) (string, []byte, []byte) {
		subj := fmt.Sprintf("s.%d", seq%7)
		var hdr []byte
		if seq%3 == 0 {
			hdr = []byte(fmt.Sprintf("NATS/1.0\r\nSeq: %d\r\n\r\n", seq))
		}
		return subj, hdr, []byte(fmt.Sprintf("payload %d %s", seq, bytes.Repeat([]byte("x"), int(seq%40))))
	}
	for seq := uint64(1); seq <= n; seq++ {
		subj, hdr, data := want(seq)
		if got, err := fs.Append(subj, hdr, data, int64(seq)); err != nil || got != seq {
			t.Fatalf("append %d: %d %v", seq, got, err)
		}
		if seq%10 == 0 {
			if err := fs.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(fs *File, seq uint64) {
		t.Helper()
		m, err := fs.Load(seq)
		subj, hdr, data := want(seq)
		if err != nil || m.Subject != subj || !bytes.Equal(m.Hdr, hdr) || !bytes.Equal(m.Data, data) || m.Time != int64(seq) {
			t.Fatalf("load %d: %+v %v; want %s %q %q", seq, m, err, subj, hdr, data)
		}
		if (m.Hdr == nil) != (hdr == nil) {
			t.Fatalf("load %d: header %q, want %q", seq, m.Hdr, hdr)
		}
	}
	readAll := func(fs *File) {
		t.Helper()
		for seq := uint64(1); seq <= n; seq++ {
			check(fs, seq)
		}
		for seq := uint64(n); seq >= 1; seq-- {
			check(fs, seq)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			check(fs, 1+r.Uint64N(n))
		}
	}
	readAll(fs)
	if len(fs.segs) < 10 {
		t.Fatalf("only %d segments: the test wants many", len(fs.segs))
	}
	fs.Close()
	fs, err = OpenFile(dir, 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	readAll(fs)
	// Dropping the oldest segments (the held one among them) keeps the rest readable.
	if _, err := fs.Purge("", 300, 0); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(300); seq <= n; seq++ {
		check(fs, seq)
	}
	if _, err := fs.Load(299); err == nil {
		t.Fatal("a purged message loads")
	}
}

// TestFileStoreTornHeaderlessTail cuts the last record, a message without
// headers, at every length: recovery drops exactly that record.
func TestFileStoreTornHeaderlessTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	fs, err := OpenFile(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	fs.Append("x", nil, []byte("first"), 1)
	fs.Append("x", nil, []byte("second"), 2)
	fs.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%020d.seg", 1))
	full, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	last := recFrame + recMinBody + len("x") + len("second")
	for cut := 1; cut < last; cut++ {
		d := filepath.Join(t.TempDir(), "s")
		os.MkdirAll(d, 0o750)
		if err := os.WriteFile(filepath.Join(d, filepath.Base(seg)), full[:len(full)-cut], 0o640); err != nil {
			t.Fatal(err)
		}
		fs, err := OpenFile(d, 0)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		st := fs.State()
		m, lerr := fs.Load(1)
		next, aerr := fs.Append("x", nil, []byte("again"), 3)
		fs.Close()
		if fs.Recovered == "" || st.Msgs != 1 || st.LastSeq != 1 || lerr != nil || string(m.Data) != "first" || aerr != nil || next != 2 {
			t.Fatalf("cut %d bytes: repaired %q, state %+v, load 1 %v, next seq %d %v", cut, fs.Recovered, st, lerr, next, aerr)
		}
	}
}

// TestFileStoreDropWritesFirst: a segment emptied by removals made in the
// same batch as a roll is deleted only once those removals are in the
// files, so a kill before the batch's Flush keeps the older messages (and
// the sequence) instead of leaving an empty store behind.
func TestFileStoreDropWritesFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	fs, err := OpenFile(dir, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var last uint64
	for fs.active().size < fs.maxSeg { // fills the first segment
		if last, err = fs.Append("k", nil, make([]byte, 50), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Flush(); err != nil {
		t.Fatal(err)
	}
	// One batch: a put that rolls, and the removal of the older messages
	// (a key-value bucket of history 1), which empties the first segment.
	seq, err := fs.Append("k", nil, make([]byte, 50), 2)
	if err != nil || len(fs.segs) != 2 {
		t.Fatalf("append %d %v, %d segments", seq, err, len(fs.segs))
	}
	for s := uint64(1); s <= last; s++ {
		if _, err := fs.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	crashed := copyDir(t, dir) // killed before the batch's Flush
	re, err := OpenFile(crashed, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if st := re.State(); st.LastSeq < last {
		t.Fatalf("after a kill: %+v, want last sequence at least %d", st, last)
	}
}
