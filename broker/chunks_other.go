//go:build !linux

package broker

import "sync"

// Elsewhere output chunks come from a pool of heap arrays (chunks_linux.go
// says why Linux maps its own).
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

func getChunk() []byte { return chunkPool.Get().(*[chunkSize]byte)[:0] }

func putChunk(b []byte) {
	if cap(b) == chunkSize {
		chunkPool.Put((*[chunkSize]byte)(b[:chunkSize]))
	}
}
