package broker

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Output chunks on Linux come from an arena of 2 MiB regions mapped
// outside the Go heap with MADV_HUGEPAGE, instead of from a sync.Pool of
// heap arrays: memory a process touches for the first time costs a page
// fault per 4 KiB page, and on a virtual machine a fault costs some 15 µs.
// A subscriber that stops reading grows its backlog to max_pending (64
// MiB by default) in the goroutine of whoever publishes to it, and 16,000
// faults (a quarter of a second here) held every other subscriber of that
// publisher up for as long. With transparent huge pages ("madvise" or
// "always" in /sys/kernel/mm/transparent_hugepage/enabled) a region takes
// one fault; a fully free region beyond arenaRetain is unmapped, so the
// memory a burst needed goes back to the system.
//
// A chunk is returned with putChunk exactly once, like the pool's; a
// slice starting inside a chunk (the unwritten rest of a cut-short write)
// returns the whole chunk. Chunks still queued when a connection closes
// are returned by its teardown (outbound.drop).
const (
	regionSize      = 2 << 20
	chunksPerRegion = regionSize / chunkSize
	// arenaRetain is how much free chunk memory is kept mapped for the
	// next burst; fully free regions beyond it are unmapped.
	arenaRetain = 64 << 20
)

type region struct {
	mem  []byte
	free []uint8 // indices of free chunks
}

var arena struct {
	mu      sync.Mutex
	regions map[uintptr]*region // by base address
	partial []*region           // regions with free chunks, the warmest last
	free    int                 // free bytes in mapped regions
}

func getChunk() []byte {
	arena.mu.Lock()
	defer arena.mu.Unlock()
	if len(arena.partial) == 0 {
		r := mapRegion()
		if r == nil {
			return make([]byte, 0, chunkSize) // the heap's: putChunk lets the GC have it
		}
		arena.partial = append(arena.partial, r)
	}
	r := arena.partial[len(arena.partial)-1]
	i := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	if len(r.free) == 0 {
		arena.partial = arena.partial[:len(arena.partial)-1]
	}
	arena.free -= chunkSize
	off := int(i) * chunkSize
	return r.mem[off : off : off+chunkSize]
}

func putChunk(b []byte) {
	if cap(b) == 0 {
		return
	}
	// The chunk's end is the slice's capacity end: a chunk is handed out
	// with its capacity ending at the chunk's end.
	end := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(cap(b))
	start := end - chunkSize
	arena.mu.Lock()
	defer arena.mu.Unlock()
	r := arena.regions[start&^(regionSize-1)]
	if r == nil {
		return // not the arena's: a heap fallback chunk
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r.mem)))
	if len(r.free) == 0 {
		arena.partial = append(arena.partial, r)
	}
	r.free = append(r.free, uint8((start-base)/chunkSize))
	arena.free += chunkSize
	if len(r.free) == chunksPerRegion && arena.free > arenaRetain {
		unmapRegion(r, base)
	}
}

// mapRegion maps a fresh 2 MiB-aligned region (nil when mapping fails).
// Caller holds arena.mu.
func mapRegion() *region {
	p, err := unix.MmapPtr(-1, 0, nil, 2*regionSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	// Keep the aligned 2 MiB inside, so one huge page can back it.
	skip := (regionSize - uintptr(p)%regionSize) % regionSize
	if skip > 0 {
		_ = unix.MunmapPtr(p, skip)
	}
	if tail := regionSize - skip; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(p, skip+regionSize), tail)
	}
	mem := unsafe.Slice((*byte)(unsafe.Add(p, skip)), regionSize)
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE) // no huge pages: 4 KiB ones, as before
	r := &region{mem: mem, free: make([]uint8, 0, chunksPerRegion)}
	for i := chunksPerRegion - 1; i >= 0; i-- {
		r.free = append(r.free, uint8(i))
	}
	if arena.regions == nil {
		arena.regions = make(map[uintptr]*region)
	}
	arena.regions[uintptr(unsafe.Pointer(unsafe.SliceData(mem)))] = r
	arena.free += regionSize
	return r
}

// unmapRegion gives a fully free region back. Caller holds arena.mu.
func unmapRegion(r *region, base uintptr) {
	for i, pr := range arena.partial {
		if pr == r {
			arena.partial = append(arena.partial[:i], arena.partial[i+1:]...)
			break
		}
	}
	delete(arena.regions, base)
	arena.free -= regionSize
	_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(r.mem)), regionSize)
}
