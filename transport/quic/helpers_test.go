package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// testTimeout bounds every wait in these tests; conditions normally hold in
// milliseconds on loopback, so hitting it means a bug, not a slow machine.
const testTimeout = 10 * time.Second

// newTestTransport returns a self-signed transport whose Dial pins its own
// certificate, with timeouts short enough for tests. mutate may adjust cfg.
func newTestTransport(t *testing.T, mutate func(*Config)) *Transport {
	t.Helper()
	cfg := DefaultConfig()
	cfg.PrefaceTimeout = 2 * time.Second
	cfg.CloseLinger = 2 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// The fingerprint exists only after New, so pin it in a second step.
	dc := tr.cfg.Dial
	dc.Fingerprint = tr.Fingerprint()
	if tr.dialer, err = NewDialer(dc); err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	return tr
}

// listen starts a listener on an ephemeral loopback port, closed at cleanup.
func listen(t *testing.T, tr *Transport) *Listener {
	t.Helper()
	ln, err := tr.ListenQUIC("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// dial connects with tr's pinned dialer; the conn is closed at cleanup.
func dial(t *testing.T, tr *Transport, ln *Listener) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := tr.dialer.DialContext(ctx, ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseWithError(CodeNoError, "") })
	return c
}

type acceptResult struct {
	c   net.Conn
	err error
}

// acceptAsync runs Accept in a goroutine; Listener.Close ends it at cleanup.
func acceptAsync(ln *Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func waitAccept(t *testing.T, ch <-chan acceptResult) *Conn {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		c := r.c.(*Conn)
		t.Cleanup(func() { _ = c.CloseWithError(CodeNoError, "") })
		return c
	case <-time.After(testTimeout):
		t.Fatal("Accept did not return")
		return nil
	}
}

// rawDial speaks bare quic-go with the right ALPN, so tests can misbehave in
// ways the Dialer never would. With pc set, the caller owns the UDP socket.
func rawDial(t *testing.T, addr net.Addr, pc net.PacketConn) *quicgo.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tc := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}}
	qcfg := &quicgo.Config{MaxIdleTimeout: time.Minute}
	var qc *quicgo.Conn
	var err error
	if pc != nil {
		qc, err = (&quicgo.Transport{Conn: pc}).Dial(ctx, addr, tc, qcfg)
	} else {
		qc, err = quicgo.DialAddr(ctx, addr.String(), tc, qcfg)
	}
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { _ = qc.CloseWithError(0, "") })
	return qc
}

// closeCode waits until the server closes qc and returns its application
// error code.
func closeCode(t *testing.T, qc *quicgo.Conn) quicgo.ApplicationErrorCode {
	t.Helper()
	select {
	case <-qc.Context().Done():
	case <-time.After(testTimeout):
		t.Fatal("connection was not closed by the server")
	}
	var ae *quicgo.ApplicationError
	if err := context.Cause(qc.Context()); !errors.As(err, &ae) || !ae.Remote {
		t.Fatalf("close cause = %v, want a remote application error", err)
	}
	return ae.ErrorCode
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// listenerGoroutines counts the goroutines the Listener starts (accept loop,
// one per pending peer), which Close promises to have stopped before it
// returns. The callback track registers is not one: it runs briefly when a
// connection ends, possibly after Close.
func listenerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "quic.(*Listener).acceptLoop") || strings.Contains(g, "quic.(*Listener).handshake") {
			n++
		}
	}
	return n
}

// readN reads exactly n bytes or fails the test.
func readN(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}
