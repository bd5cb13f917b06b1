package quic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/murmurmq/murmur/internal/testutil"
)

func TestWrongPrefaceIsClosed(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	acc := acceptAsync(ln)

	for _, bad := range []string{"HTTP/1.1 GET /\r\n", "PING\r\n", "NATX\n"} {
		qc := rawDial(t, ln.Addr(), nil)
		str, err := qc.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := str.Write([]byte(bad)); err != nil {
			t.Fatal(err)
		}
		if code := closeCode(t, qc); code != CodeProtocolError {
			t.Errorf("preface %q: close code %#x, want CodeProtocolError", bad, code)
		}
	}
	// None of them reached Accept; a good client still does.
	select {
	case r := <-acc:
		t.Fatalf("Accept returned a bad peer: %v %v", r.c, r.err)
	default:
	}
	c := dial(t, tr, ln)
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	srv := waitAccept(t, acc)
	if got := readN(t, srv, 6); string(got) != "PING\r\n" {
		t.Fatalf("bytes after the preface: %q", got)
	}
}

// TestSilentPeersDoNotBlockAccept: peers that never open a stream, or stop
// half-way through the preface, are closed after PrefaceTimeout, and a good
// client dialled after them is accepted long before that.
func TestSilentPeersDoNotBlockAccept(t *testing.T) {
	const prefaceTimeout = 3 * time.Second
	tr := newTestTransport(t, func(c *Config) { c.PrefaceTimeout = prefaceTimeout })
	ln := listen(t, tr)

	start := time.Now()
	noStream := rawDial(t, ln.Addr(), nil)
	partial := rawDial(t, ln.Addr(), nil)
	str, err := partial.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte(Preface[:2])); err != nil {
		t.Fatal(err)
	}

	acc := acceptAsync(ln)
	_ = dial(t, tr, ln)
	_ = waitAccept(t, acc)
	if d := time.Since(start); d >= prefaceTimeout {
		t.Fatalf("good client accepted after %v, not ahead of the silent ones", d)
	}
	for name, qc := range map[string]*quicgo.Conn{"no stream": noStream, "partial preface": partial} {
		if code := closeCode(t, qc); code != CodePrefaceTimeout {
			t.Errorf("%s: close code %#x, want CodePrefaceTimeout", name, code)
		}
	}
	if d := time.Since(start); d < prefaceTimeout {
		t.Errorf("silent peers closed after %v, before PrefaceTimeout", d)
	}
}

// TestSecondStreamRefused: a peer gets exactly one bidirectional stream;
// opening another is refused by QUIC flow control, at no cost to the server.
func TestSecondStreamRefused(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	acc := acceptAsync(ln)
	qc := rawDial(t, ln.Addr(), nil)
	str, err := qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte(Preface)); err != nil {
		t.Fatal(err)
	}
	_ = waitAccept(t, acc)

	var limit *quicgo.StreamLimitReachedError
	if _, err := qc.OpenStream(); !errors.As(err, &limit) {
		t.Fatalf("second OpenStream: %v, want StreamLimitReachedError", err)
	}
	if _, err := qc.OpenUniStream(); !errors.As(err, &limit) {
		t.Fatalf("OpenUniStream: %v, want StreamLimitReachedError", err)
	}
}

// TestManyConcurrentDials: a burst of handshakes larger than quic-go's own
// accept queue (32, after which it refuses with CONNECTION_REFUSED) is held
// by the listener's backlog while nobody calls Accept, none refused, and
// every connection then works.
//
// The clients dial at most dialsInFlight at a time. They run in this process
// beside the server, so under CPU contention (a loaded machine, the race
// detector) handshakes complete at a limited rate. Started all at once they
// share the CPU, all finish late together, and retransmit while they wait
// (quic-go's first probe timeout is 200 ms, doubling): under load 64 at once
// took 6-10 s, past the client's 5 s dial timeout, while quic-go's queue
// never filled. That measured the machine, not the listener.
func TestManyConcurrentDials(t *testing.T) {
	const n, dialsInFlight = 64, 8
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)

	conns := make([]net.Conn, n)
	msg := func(i int) []byte { return fmt.Appendf(nil, "%08d", i) }
	sem := make(chan struct{}, dialsInFlight)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := tr.Dial(ctx, ln.Addr().String())
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			if _, err := c.Write(msg(i)); err != nil {
				t.Errorf("client %d: write: %v", i, err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every connection is past its preface and waiting for Accept: twice
	// what quic-go alone would have kept.
	testutil.Eventually(t, testTimeout, "every connection ready for Accept", func() bool { return len(ln.ready) == n })

	var srvWG sync.WaitGroup
	for range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		srvWG.Go(func() {
			defer c.Close()
			b := make([]byte, 8)
			if _, err := io.ReadFull(c, b); err != nil {
				t.Errorf("server read: %v", err)
				return
			}
			_, _ = c.Write(b)
			_, _ = io.Copy(io.Discard, c) // until the client closes
		})
	}
	for i, c := range conns {
		wg.Go(func() {
			got := make([]byte, 8)
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("client %d: read: %v", i, err)
			} else if string(got) != string(msg(i)) {
				t.Errorf("client %d: echo %q, want %q", i, got, msg(i))
			}
			_ = c.Close()
		})
	}
	wg.Wait()
	srvWG.Wait()
}

// TestListenerClose: Close unblocks Accept, closes connections still waiting
// for their preface with CodeShutdown, leaves accepted ones open, and returns
// only after its goroutines are gone.
func TestListenerClose(t *testing.T) {
	before := runtime.NumGoroutine()
	tr := newTestTransport(t, func(c *Config) { c.PrefaceTimeout = time.Minute })
	ln, err := tr.ListenQUIC("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	acc := acceptAsync(ln)
	cli := dial(t, tr, ln)
	srv := waitAccept(t, acc)
	pending := rawDial(t, ln.Addr(), nil) // holds a handshake goroutine
	waitFor(t, "a goroutine for the pending peer", func() bool { return listenerGoroutines() >= 2 })

	blocked := acceptAsync(ln)
	if err := ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Poll only for the instant between a goroutine's deferred wg.Done and
	// its return; anything still blocked would never reach zero.
	waitFor(t, "listener goroutines to exit", func() bool { return listenerGoroutines() == 0 })
	select {
	case r := <-blocked:
		if !errors.Is(r.err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", r.err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Close did not unblock Accept")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("later Accept: %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if code := closeCode(t, pending); code != CodeShutdown {
		t.Errorf("pending peer close code %#x, want CodeShutdown", code)
	}

	// The accepted connection outlives its listener.
	if _, err := cli.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, srv, 6); string(got) != "PING\r\n" {
		t.Fatalf("read %q", got)
	}

	// Once every connection is gone, so is every goroutine quic-go started.
	_ = cli.Close()
	_ = srv.Close()
	_ = pending.CloseWithError(0, "")
	waitFor(t, fmt.Sprintf("goroutines back to %d", before), func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// TestBacklogBounds: with Backlog 1, a silent peer holds the only slot, so a
// good client waits for PrefaceTimeout; the bound is what keeps a flood of
// silent peers from costing unbounded goroutines and memory.
func TestBacklogBounds(t *testing.T) {
	const prefaceTimeout = time.Second
	tr := newTestTransport(t, func(c *Config) {
		c.Backlog = 1
		c.PrefaceTimeout = prefaceTimeout
	})
	ln := listen(t, tr)
	start := time.Now()
	silent := rawDial(t, ln.Addr(), nil)
	waitFor(t, "the silent peer's handshake goroutine", func() bool { return listenerGoroutines() == 2 })

	acc := acceptAsync(ln)
	_ = dial(t, tr, ln) // completes: quic-go queues the handshaken connection
	_ = waitAccept(t, acc)
	if d := time.Since(start); d < prefaceTimeout {
		t.Errorf("accepted after %v, while the only slot was taken", d)
	}
	if code := closeCode(t, silent); code != CodePrefaceTimeout {
		t.Errorf("silent peer code %#x", code)
	}
}
