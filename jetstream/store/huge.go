package store

import "unsafe"

// Large buffers of the store (the index's entries, the active segment, the
// read cache, recovery's scratch) are asked to be backed by huge pages.
// On a virtual machine a first touch of a 4 KiB page costs some 15 µs, so
// recovering a million messages (32 MB of index and three 8 MiB segment
// buffers, about 12,600 pages) spent more time in page faults than in
// decoding; with 2 MiB pages the same memory is a few dozen faults. A
// segment roll reserves 8 MiB too, and a consumer catching up loads each
// segment into a buffer of its own, so appends and reads gain as well.

// hugeMin is the size from which a buffer is worth the advice: it must
// span at least one whole 2 MiB page.
const hugeMin = 4 << 20

// makeHuge is make([]T, n, c), asking the kernel for huge pages when the
// slice is large. The memory stays the Go heap's: the collector frees it
// as any other.
func makeHuge[T any](n, c int) []T {
	s := make([]T, n, c)
	var zero T
	if size := uintptr(c) * unsafe.Sizeof(zero); size >= hugeMin {
		adviseHuge(unsafe.Pointer(unsafe.SliceData(s)), size)
	}
	return s
}
