package broker

import "testing"

// arenaCounts reads the arena's mapped regions and free bytes.
func arenaCounts() (regions, free int) {
	arena.mu.Lock()
	defer arena.mu.Unlock()
	return len(arena.regions), arena.free
}

// TestChunkArena: chunks are distinct, full-size and writable; a slice
// starting inside a chunk returns the whole chunk; regions beyond the
// retained free memory are unmapped once every chunk in them is back.
func TestChunkArena(t *testing.T) {
	regions0, free0 := arenaCounts()
	n := (arenaRetain + 8*regionSize) / chunkSize
	chunks := make([][]byte, 0, n)
	seen := map[*byte]bool{}
	for range n {
		c := getChunk()
		if len(c) != 0 || cap(c) != chunkSize {
			t.Fatalf("chunk len %d cap %d", len(c), cap(c))
		}
		c = c[:chunkSize]
		c[0], c[chunkSize-1] = 1, 2 // writable end to end
		if seen[&c[0]] {
			t.Fatal("a chunk handed out twice")
		}
		seen[&c[0]] = true
		chunks = append(chunks, c[:0])
	}
	if regions, _ := arenaCounts(); regions < regions0+n/chunksPerRegion-1 {
		t.Fatalf("%d regions for %d chunks", regions, n)
	}
	for i, c := range chunks {
		if i%2 == 0 {
			c = c[:chunkSize][1000:] // the unwritten rest of a cut-short write
		}
		putChunk(c)
	}
	regions, free := arenaCounts()
	if free-free0 > arenaRetain+regionSize || free < arenaRetain {
		t.Fatalf("free %d after returning everything (was %d), want about %d retained", free, free0, arenaRetain)
	}
	if regions >= regions0+n/chunksPerRegion {
		t.Fatalf("%d regions still mapped: none given back", regions)
	}
	putChunk(make([]byte, 0, chunkSize)) // a heap chunk: ignored
	if _, f := arenaCounts(); f != free {
		t.Fatalf("a heap chunk changed the arena's free bytes")
	}
}
