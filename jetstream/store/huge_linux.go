package store

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge marks the whole 2 MiB pages inside [p, p+size) MADV_HUGEPAGE.
// With transparent huge pages in "madvise" mode (the usual default) the
// first touch of each then faults in one 2 MiB page; where the kernel has
// none to give, it falls back to 4 KiB pages, as without the advice.
func adviseHuge(p unsafe.Pointer, size uintptr) {
	const huge = 2 << 20
	start := (uintptr(p) + huge - 1) &^ (huge - 1)
	end := (uintptr(p) + size) &^ (huge - 1)
	if end <= start {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
