package broker

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeNetConn is a net.Conn whose peer reads only what the test allows:
// Write takes up to budget bytes (a negative budget: unlimited) and then
// blocks until the budget grows or the write deadline passes, returning
// what it took and os.ErrDeadlineExceeded, as a socket whose peer stopped
// reading does. It reports resumable writes, so the broker writes it
// inline like TCP.
type fakeNetConn struct {
	mu       sync.Mutex
	cond     *sync.Cond
	budget   int
	deadline time.Time
	closed   bool
	got      bytes.Buffer
	writes   int
	onWrite  func() // called (without the lock) at the start of each Write
}

func newFakeNetConn(budget int) *fakeNetConn {
	f := &fakeNetConn{budget: budget}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeNetConn) ResumableWrites() bool { return true }

func (f *fakeNetConn) Write(b []byte) (int, error) {
	f.mu.Lock()
	hook := f.onWrite
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	n := 0
	for {
		if f.closed {
			return n, net.ErrClosed
		}
		take := len(b) - n
		if f.budget >= 0 {
			take = min(take, f.budget)
			f.budget -= take
		}
		f.got.Write(b[n : n+take])
		n += take
		if n == len(b) {
			return n, nil
		}
		if !f.deadline.IsZero() && !time.Now().Before(f.deadline) {
			return n, os.ErrDeadlineExceeded
		}
		f.waitLocked()
	}
}

// waitLocked waits for a change (budget, deadline, close) or the deadline.
func (f *fakeNetConn) waitLocked() {
	if !f.deadline.IsZero() {
		t := time.AfterFunc(time.Until(f.deadline), func() {
			f.mu.Lock()
			f.cond.Broadcast()
			f.mu.Unlock()
		})
		defer t.Stop()
	}
	f.cond.Wait()
}

// Read blocks until Close: the peer sends nothing.
func (f *fakeNetConn) Read([]byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.closed {
		f.cond.Wait()
	}
	return 0, io.EOF
}

func (f *fakeNetConn) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.cond.Broadcast()
	f.mu.Unlock()
	return nil
}

func (f *fakeNetConn) Close() error {
	f.mu.Lock()
	f.closed = true
	f.cond.Broadcast()
	f.mu.Unlock()
	return nil
}

// allow lets the peer read n more bytes (n < 0: everything from now on).
func (f *fakeNetConn) allow(n int) {
	f.mu.Lock()
	if n < 0 || f.budget < 0 {
		f.budget = -1
	} else {
		f.budget += n
	}
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *fakeNetConn) received() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.got.Bytes())
}

func (f *fakeNetConn) LocalAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeNetConn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }
func (f *fakeNetConn) SetDeadline(time.Time) error     { return nil }
func (f *fakeNetConn) SetReadDeadline(time.Time) error { return nil }

// fakeProto is a protocol with nothing on top of the core; closed is
// closed when the core tears the connection down.
type fakeProto struct{ done chan struct{} }

func (p *fakeProto) parse([]byte) error { return nil }
func (p *fakeProto) reloaded(*Options)  {}
func (p *fakeProto) closed()            { close(p.done) }

// startFakeConn runs a connection core over f with the given options
// changes, its reader and writer owned by a server that is never started.
func startFakeConn(t *testing.T, f *fakeNetConn, set func(*Options)) (*conn, *fakeProto) {
	t.Helper()
	o := DefaultOptions()
	if set != nil {
		set(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c, p := &conn{}, &fakeProto{done: make(chan struct{})}
	c.init(s, 1, f, "tcp", p)
	c.capProto = true
	s.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	t.Cleanup(func() {
		c.close(ServerShutdown)
		f.Close()
		s.wg.Wait()
	})
	return c, p
}

// queue appends b as a producer does, without waking the writer; it
// reports false when the connection refused it (max_pending).
func (c *conn) queueForTest(b []byte) bool {
	c.mu.Lock()
	if !c.admitLocked(len(b)) {
		c.mu.Unlock()
		return false
	}
	c.out.write(b)
	c.appendedLocked(len(b))
	return true
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInlineFlushHandsBackTheRest: an inline write the peer takes only
// part of (cut short by the inline deadline) hands the unwritten rest back
// to the writer ahead of what producers queued meanwhile; the writer
// writes both, in order, once the peer reads again.
func TestInlineFlushHandsBackTheRest(t *testing.T) {
	f := newFakeNetConn(1000)
	c, _ := startFakeConn(t, f, nil)
	a, b := pattern(10000, 1), pattern(5000, 7)
	var once sync.Once
	f.onWrite = func() {
		once.Do(func() { c.queueForTest(b) }) // queued during the inline write
	}
	if !c.queueForTest(a) {
		t.Fatal("refused")
	}
	c.Flush()
	// The inline write took 1,000 bytes, then timed out: the rest went back.
	c.mu.Lock()
	pending := c.out.pending()
	c.mu.Unlock()
	if got := f.received(); !bytes.Equal(got, a[:1000]) {
		t.Fatalf("inline write delivered %d bytes, want the first 1000", len(got))
	}
	if pending != 14000 {
		t.Fatalf("pending %d after the hand-back, want 14000", pending)
	}
	f.allow(-1)
	want := append(bytes.Clone(a), b...)
	waitFor(t, "the writer writes the rest", func() bool { return len(f.received()) >= len(want) })
	if got := f.received(); !bytes.Equal(got, want) {
		t.Fatalf("peer got %d bytes, not the queued %d in order", len(got), len(want))
	}
	waitFor(t, "nothing pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out.pending() == 0 && !c.out.writing
	})
}

// TestInlineFlushDefersToTheWriter: while the writer owns the socket, a
// producer's Flush does not write inline; what it queued follows the
// writer's data.
func TestInlineFlushDefersToTheWriter(t *testing.T) {
	f := newFakeNetConn(0)
	c, _ := startFakeConn(t, f, nil)
	a, b := pattern(100000, 3), pattern(3000, 9)
	c.queueForTest(a)
	c.wakeWriter()
	waitFor(t, "the writer is writing", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out.writing
	})
	c.queueForTest(b)
	c.Flush() // the writer is busy: only a wake-up
	f.mu.Lock()
	writes := f.writes
	f.mu.Unlock()
	if writes != 1 {
		t.Fatalf("%d writes started, want only the writer's", writes)
	}
	f.allow(-1)
	want := append(bytes.Clone(a), b...)
	waitFor(t, "everything written", func() bool { return len(f.received()) >= len(want) })
	if !bytes.Equal(f.received(), want) {
		t.Fatal("peer got the data out of order")
	}
}

// TestWriteCutShortMidWritev: the writer's writev of several chunks, cut
// short by the write deadline after part of them, closes the connection
// as a slow consumer (write deadline) at once: nothing more is written,
// the peer has an intact prefix, and the core tears down.
func TestWriteCutShortMidWritev(t *testing.T) {
	f := newFakeNetConn(100000)
	c, p := startFakeConn(t, f, func(o *Options) { o.WriteDeadline = 50 * time.Millisecond })
	data := pattern(5*chunkSize, 5) // five chunks: more than one writev
	for off := 0; off < len(data); off += 10000 {
		if !c.queueForTest(data[off:min(off+10000, len(data))]) {
			t.Fatal("refused")
		}
	}
	c.wakeWriter()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("not torn down after the write deadline")
	}
	if r := c.closeReason(); r != SlowConsumerWriteDeadline {
		t.Fatalf("closed for %v, want %v", r, SlowConsumerWriteDeadline)
	}
	if got := f.received(); !bytes.Equal(got, data[:100000]) {
		t.Fatalf("peer got %d bytes, want the first 100000 intact", len(got))
	}
	if n := c.srv.stats.slowConsumers.Load(); n != 1 {
		t.Fatalf("slow consumers %d, want 1", n)
	}
	f.mu.Lock()
	writes := f.writes
	f.mu.Unlock()
	// The first writev (four chunks) is one Write per chunk on a plain
	// net.Conn: the first chunk went whole, the second was cut. The fifth
	// chunk's writev never starts: nothing is written after a failed write.
	if writes != 2 {
		t.Fatalf("%d writes, want 2: nothing is written after a failed write", writes)
	}
}

// TestCutOffAtMaxPending: with the writer blocked on a peer that reads
// nothing, producers are admitted up to max_pending exactly; the next
// message closes the connection as a slow consumer, ends the blocked write
// at once (not at the write deadline) and the core tears down.
func TestCutOffAtMaxPending(t *testing.T) {
	f := newFakeNetConn(0)
	c, p := startFakeConn(t, f, func(o *Options) { o.MaxPending, o.MaxPayload = 100000, 10000 })
	msg := pattern(10000, 2)
	admitted := 0
	for c.queueForTest(msg) {
		if admitted++; admitted == 1 {
			c.wakeWriter() // the writer takes the first and blocks on the peer
		}
		if admitted > 20 {
			t.Fatal("never cut off")
		}
	}
	if admitted != 10 {
		t.Fatalf("admitted %d messages of 10000 bytes, want 10 (max_pending 100000)", admitted)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Second): // the write deadline is 10 s
		t.Fatal("the blocked write was not ended at the cut-off")
	}
	if r := c.closeReason(); r != SlowConsumerPendingBytes {
		t.Fatalf("closed for %v, want %v", r, SlowConsumerPendingBytes)
	}
	if c.queueForTest(msg) {
		t.Fatal("a closed connection admitted a message")
	}
}

// TestStallCounted: a producer that finds a connection past the stall mark
// is held back (waitForPeer) and counted in Stats.Stalls, nats-server's
// stalled_clients; once the peer looks stalled it is skipped, uncounted.
func TestStallCounted(t *testing.T) {
	f := newFakeNetConn(0)
	c, _ := startFakeConn(t, f, func(o *Options) { o.MaxPending, o.MaxPayload = 100000, 10000 })
	msg := pattern(10000, 3)
	for range 8 { // 80,000 bytes: past the stall mark of 75,000
		if !c.queueForTest(msg) {
			t.Fatal("cut off below max_pending")
		}
		c.wakeWriter()
	}
	if c.srv.Stats().Stalls == 0 {
		t.Fatal("a producer past the stall mark was not counted as held back")
	}
	// The verdict needs the writer blocked on the peer: on a loaded
	// machine it may not have been scheduled during the waits above. With
	// it writing, the next producer finds no progress and calls the peer
	// stalled; the one after that is not held back.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		writing := c.out.writing
		c.mu.Unlock()
		if writing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never started writing")
		}
	}
	if !c.queueForTest(msg) {
		t.Fatal("cut off below max_pending")
	}
	n := c.srv.Stats().Stalls
	if !c.queueForTest(msg) {
		t.Fatal("cut off below max_pending")
	}
	if got := c.srv.Stats().Stalls; got != n {
		t.Fatalf("stalls %d → %d: a peer that looks stalled is skipped, not waited for", n, got)
	}
}
