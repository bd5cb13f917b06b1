package store

import (
	"path/filepath"
	"testing"
)

// fill writes n 128 B messages on one subject to a file store in dir and
// closes it cleanly.
func fill(tb testing.TB, dir string, n int) {
	tb.Helper()
	fs, err := OpenFile(dir, 0)
	if err != nil {
		tb.Fatal(err)
	}
	data := make([]byte, 128)
	for i := range n {
		if _, err := fs.Append("bench.js", nil, data, int64(i)); err != nil {
			tb.Fatal(err)
		}
		if i%1000 == 999 {
			if err := fs.Flush(); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := fs.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOpenFile1M times recovering a store of 1,000,000 messages.
func BenchmarkOpenFile1M(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "s")
	fill(b, dir, 1_000_000)
	b.ResetTimer()
	for b.Loop() {
		fs, err := OpenFile(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		if st := fs.State(); st.Msgs != 1_000_000 {
			b.Fatalf("recovered %d messages", st.Msgs)
		}
		fs.Close()
	}
}

// BenchmarkAppend times appending 128 B messages with a flush every 100.
func BenchmarkAppend(b *testing.B) {
	fs, err := OpenFile(filepath.Join(b.TempDir(), "s"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	data := make([]byte, 128)
	i := 0
	for b.Loop() {
		if _, err := fs.Append("bench.js", nil, data, int64(i)); err != nil {
			b.Fatal(err)
		}
		if i++; i%100 == 0 {
			if err := fs.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
