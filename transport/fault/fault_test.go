package fault_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/murmurmq/murmur/transport/fault"
	"github.com/murmurmq/murmur/transport/tcp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a faulty connection (dialed through ft) and its plain
// peer, over loopback TCP.
func pair(t *testing.T, ft *fault.Transport) (faulty, peer net.Conn) {
	t.Helper()
	ln, err := tcp.New().Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	faulty, err = ft.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-got
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { faulty.Close(); peer.Close() })
	return faulty, peer
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestPassThrough(t *testing.T) {
	ft := fault.New(tcp.New())
	a, b := pair(t, ft)
	if _, err := a.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, b, 4); got != "ping" {
		t.Fatalf("peer got %q", got)
	}
	if _, err := b.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, a, 4); got != "pong" {
		t.Fatalf("got %q", got)
	}
	if ft.Conns() != 1 {
		t.Fatalf("%d conns, want 1", ft.Conns())
	}
}

// TestCutOutboundWaits: a cut write blocks, fails at its deadline, and a
// later write goes through after Heal with nothing lost.
func TestCutOutboundWaits(t *testing.T) {
	ft := fault.New(tcp.New())
	a, b := pair(t, ft)
	ft.Cut(fault.Outbound)
	_ = a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := a.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("cut write: %v, want a deadline error", err)
	}
	_ = a.SetWriteDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := a.Write([]byte("held")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a cut write returned (%v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	// The peer can still send: only this side's outbound is cut.
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, a, 4); got != "back" {
		t.Fatalf("inbound during an outbound cut: %q", got)
	}
	ft.Heal()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := readN(t, b, 4); got != "held" {
		t.Fatalf("after heal the peer got %q", got)
	}
}

// TestCutInboundHolds: what arrives during an inbound cut is held, not
// lost, and read after Heal; Close ends a held Read.
func TestCutInboundHolds(t *testing.T) {
	ft := fault.New(tcp.New())
	a, b := pair(t, ft)
	ft.Cut(fault.Inbound)
	if _, err := b.Write([]byte("during")); err != nil {
		t.Fatal(err)
	}
	_ = a.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	buf := make([]byte, 16)
	if _, err := a.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("cut read: %v, want a deadline error", err)
	}
	ft.Heal()
	if got := readN(t, a, 6); got != "during" {
		t.Fatalf("after heal: %q", got)
	}

	ft.Cut(fault.Both)
	done := make(chan error, 1)
	go func() { _, err := a.Read(buf); done <- err }()
	if _, err := b.Write([]byte("z")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read held by a cut, then Close: %v", err)
	}
}

// TestDropLoses: dropped bytes are reported written and never arrive;
// after Heal traffic flows again.
func TestDropLoses(t *testing.T) {
	ft := fault.New(tcp.New())
	a, b := pair(t, ft)
	ft.Drop(fault.Outbound)
	if n, err := a.Write([]byte("lost")); n != 4 || err != nil {
		t.Fatalf("dropped write: %d %v", n, err)
	}
	if ft.Dropped() != 4 {
		t.Fatalf("dropped %d bytes, want 4", ft.Dropped())
	}
	ft.Heal()
	if _, err := a.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, b, 4); got != "kept" {
		t.Fatalf("peer got %q: the dropped bytes arrived", got)
	}
	ft.Drop(fault.Inbound)
	if _, err := b.Write([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	for ft.Dropped() < 8 { // the reader discards what arrives
		_ = a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := a.Read(make([]byte, 8)); err == nil {
			t.Fatal("a dropped read returned data")
		}
	}
}

// TestDelay: each write is held at least the delay.
func TestDelay(t *testing.T) {
	ft := fault.New(tcp.New())
	a, b := pair(t, ft)
	ft.Delay(30 * time.Millisecond)
	start := time.Now()
	if _, err := a.Write([]byte("slow")); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("write held %v, want at least 30ms", waited)
	}
	if got := readN(t, b, 4); got != "slow" {
		t.Fatalf("peer got %q", got)
	}
}

// TestListenWraps: accepted connections obey the faults too.
func TestListenWraps(t *testing.T) {
	ft := fault.New(tcp.New())
	ln, err := ft.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	d, err := tcp.New().Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := <-got
	defer srv.Close()
	ft.Drop(fault.Outbound)
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if ft.Dropped() != 1 {
		t.Fatal("an accepted connection ignored the fault")
	}
}
