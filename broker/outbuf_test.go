package broker

import (
	"bytes"
	"testing"
)

// TestWriteAfterCutShortChunk: when an inline write is cut short inside a
// chunk, Flush queues the chunk's unwritten rest (a slice starting inside
// the chunk, so with less capacity than chunkSize) as the pending data.
// Writes queued behind it must fill it only up to its capacity, then
// continue in fresh chunks, in order.
func TestWriteAfterCutShortChunk(t *testing.T) {
	var o outbound
	o.init(1 << 20)
	chunk := getChunk()
	for i := range 20000 {
		chunk = append(chunk, byte(i))
	}
	rest := chunk[13370:] // the write stopped after 13,370 bytes
	o.bufs, o.size = [][]byte{rest}, len(rest)

	want := append([]byte(nil), rest...)
	for _, p := range [][]byte{[]byte("PING\r\n"), bytes.Repeat([]byte("m"), 100000), []byte("PONG\r\n")} {
		o.write(p)
		want = append(want, p...)
	}
	var got []byte
	for _, b := range o.bufs {
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) || o.size != len(want) {
		t.Fatalf("queued %d bytes (size %d), want %d in order", len(got), o.size, len(want))
	}
}
