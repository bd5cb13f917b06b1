package jetstream

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestInboxBackPressure fills the inbox to its bound: the next publisher
// waits (nothing is dropped) until the engine takes the queue, the
// engine's own publishes never wait, and close releases a waiter.
func TestInboxBackPressure(t *testing.T) {
	q := newInbox()
	q.max = 64 << 10
	big := make([]byte, 1<<10)
	for range q.max / len(big) {
		q.put(1, "s", "", nil, big)
	}
	var wg sync.WaitGroup
	var done sync.Mutex
	returned := false
	wg.Go(func() {
		q.put(1, "s", "", nil, []byte("late"))
		done.Lock()
		returned = true
		done.Unlock()
	})
	isReturned := func() bool { done.Lock(); defer done.Unlock(); return returned }
	testutil.Eventually(t, 5*time.Second, "the put past the bound waits", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.waiters == 1
	})
	// The blocked put must still be blocked after the engine's own put went through.
	q.self.Add(1)
	q.put(2, "own", "", nil, []byte("own"))
	q.self.Add(-1)
	if isReturned() {
		t.Fatal("a put past the bound did not wait")
	}
	got := q.take()
	if len(got) != q.max/len(big)+1 || got[len(got)-1].subject != "own" {
		t.Fatalf("took %d messages, last %q", len(got), got[len(got)-1].subject)
	}
	testutil.Eventually(t, 5*time.Second, "the waiting put returns", isReturned)
	wg.Wait()
	if got := q.take(); len(got) != 1 || string(got[0].data) != "late" {
		t.Fatalf("the waiting message: %+v", got)
	}

	for range q.max / len(big) {
		q.put(1, "s", "", nil, big)
	}
	wg.Go(func() { q.put(1, "s", "", nil, []byte("after close")) })
	q.close()
	wg.Wait() // close released it
}

// TestInboxCopies checks that put copies the caller's slices and that a
// taken message's bytes survive later puts.
func TestInboxCopies(t *testing.T) {
	q := newInbox()
	hdr, data := []byte("NATS/1.0\r\n\r\n"), []byte("abc")
	q.put(3, "a", "r", hdr, data)
	hdr[0], data[0] = 'X', 'X'
	m := q.take()[0] // the slice is the engine's until the next take; the bytes for good
	for i := range 1000 {
		q.put(3, "b", "", nil, []byte(fmt.Sprint(i)))
	}
	q.take()
	if m.sub != 3 || m.subject != "a" || m.reply != "r" || string(m.hdr) != "NATS/1.0\r\n\r\n" || string(m.data) != "abc" {
		t.Fatalf("%+v", m)
	}
}
