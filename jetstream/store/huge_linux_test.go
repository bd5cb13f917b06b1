//go:build !race

// Not under -race: there each first write also faults in the detector's
// shadow of the page, and the counts say nothing.

package store

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestMakeHugeFaultsFew checks that touching a large makeHuge buffer takes
// far fewer page faults than its 4 KiB pages: the reason recovery of a
// million messages takes a fraction of what it did.
func TestMakeHugeFaultsFew(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages are off here (%q)", strings.TrimSpace(string(mode)))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const size = 64 << 20
	minflt := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
			t.Fatal(err)
		}
		return ru.Minflt
	}
	touch := func(b []byte) int64 {
		before := minflt()
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return minflt() - before
	}
	plain := touch(make([]byte, size))
	huge := touch(makeHuge[byte](size, size))
	t.Logf("faults touching 64 MiB: %d plain, %d with the advice", plain, huge)
	if pages := int64(size / 4096); huge > pages/4 {
		t.Fatalf("%d faults with the advice, %d without, for %d 4 KiB pages: the buffer is not on huge pages", huge, plain, pages)
	}
	if s := makeHuge[entry](3, 10); len(s) != 3 || cap(s) != 10 {
		t.Fatalf("makeHuge(3, 10): len %d cap %d", len(s), cap(s))
	}
}
