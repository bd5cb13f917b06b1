package fault_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/fault"
	"github.com/murmurmq/murmur/transport/tcp"
)

// TestMain fails the run on leaked goroutines (a Read or Write left
// waiting on a fault).
func TestMain(m *testing.M) { testutil.LeakCheckMain(m) }

var eventually = testutil.Eventually

// short is how long a test lets a deadline run to show that an operation
// is held: the timeout error it ends with is the proof.
const short = 50 * time.Millisecond

// dialPair dials a plain loopback listener through ft and returns the
// wrapped dialed end and the plain accepted end.
func dialPair(t *testing.T, ft *fault.Transport) (*fault.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := ft.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { nc.Close(); p.Close() })
	return nc.(*fault.Conn), p
}

// acceptPair listens through ft, dials it plainly, and returns the wrapped
// accepted end and the plain dialed end.
func acceptPair(t *testing.T, ft *fault.Transport) (*fault.Conn, net.Conn) {
	t.Helper()
	ln, err := ft.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); p.Close() })
	return c.(*fault.Conn), p
}

// readFull reads exactly n bytes within 5 s.
func readFull(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, b)
	}
	_ = c.SetReadDeadline(time.Time{})
	return string(b)
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

// expectTimeout fails unless err is a deadline error as net's.
func expectTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: got %v, want a deadline timeout", what, err)
	}
}

// expectEOF fails unless the peer's close reaches c within 5 s.
func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 16))
	if n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("want the peer's close, got %d bytes, %v", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// expectHeld fails unless a read on c sees nothing for short.
func expectHeld(t *testing.T, what string, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(short))
	n, err := c.Read(make([]byte, 16))
	if n != 0 {
		t.Fatalf("%s: read %d bytes", what, n)
	}
	expectTimeout(t, what, err)
	_ = c.SetReadDeadline(time.Time{})
}

type readResult struct {
	data string
	err  error
}

// readAsync reads once from c on another goroutine.
func readAsync(c net.Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b := make([]byte, 64)
		n, err := c.Read(b)
		ch <- readResult{string(b[:n]), err}
	}()
	return ch
}

func recvWithin(t *testing.T, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("read did not return")
	}
	return readResult{}
}

func TestPassThrough(t *testing.T) {
	ft := fault.New(tcp.New())
	if ft.Name() != "tcp" {
		t.Fatalf("Name = %q, want the inner transport's", ft.Name())
	}
	ln, err := ft.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, err := ft.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	write(t, d, "ping")
	if got := readFull(t, a, 4); got != "ping" {
		t.Fatalf("got %q", got)
	}
	write(t, a, "pong")
	if got := readFull(t, d, 4); got != "pong" {
		t.Fatalf("got %q", got)
	}
	if ft.Opened() != 2 || len(ft.Conns(fault.All)) != 2 || len(ft.Conns(fault.Dialed)) != 1 || len(ft.Conns(fault.Accepted)) != 1 {
		t.Fatalf("opened %d, conns %d", ft.Opened(), len(ft.Conns(fault.All)))
	}
	if dc := d.(*fault.Conn); !dc.Dialed() || dc.Target() != ln.Addr().String() || dc.RemoteAddr().String() != ln.Addr().String() {
		t.Fatalf("dialed conn: dialed %v target %q remote %v", dc.Dialed(), dc.Target(), dc.RemoteAddr())
	}
	// Deadlines pass through.
	_ = d.SetReadDeadline(time.Now().Add(short))
	_, err = d.Read(make([]byte, 1))
	expectTimeout(t, "read past the deadline", err)
	d.Close()
	expectEOF(t, a)
	if _, err := d.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if len(ft.Conns(fault.All)) != 1 {
		t.Fatalf("closed conn still listed")
	}
}

func TestDropOut(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Drop(fault.Out)
	write(t, c, "lost") // reported written
	if c.Dropped() != 4 || ft.Dropped() != 4 {
		t.Fatalf("dropped %d / %d, want 4", c.Dropped(), ft.Dropped())
	}
	// The other direction still works.
	write(t, p, "back")
	if got := readFull(t, c, 4); got != "back" {
		t.Fatalf("in: got %q", got)
	}
	c.Heal()
	write(t, c, "kept")
	// The first bytes the peer sees are the ones after the heal.
	if got := readFull(t, p, 4); got != "kept" {
		t.Fatalf("got %q, want the bytes written after the heal", got)
	}
}

func TestDropIn(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := acceptPair(t, ft)
	c.Drop(fault.In)
	got := readAsync(c)
	write(t, p, "lost") // the peer's write succeeds
	eventually(t, 5*time.Second, "the peer's bytes dropped", func() bool { return c.Dropped() == 4 })
	c.Heal()
	write(t, p, "kept")
	if r := recvWithin(t, got); r.err != nil || r.data != "kept" {
		t.Fatalf("read %q, %v; want the bytes sent after the heal", r.data, r.err)
	}
	// A close is not data: it passes a drop.
	c.Drop(fault.In)
	p.Close()
	expectEOF(t, c)
}

func TestCutOut(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Cut(fault.Out)
	_ = c.SetWriteDeadline(time.Now().Add(short))
	n, err := c.Write([]byte("timed out"))
	if n != 0 {
		t.Fatalf("wrote %d bytes through a cut", n)
	}
	expectTimeout(t, "write under a cut", err)
	_ = c.SetWriteDeadline(time.Time{})

	// A blocked write ends when the deadline is moved into the past (the
	// broker does that to abort a write to a slow consumer).
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("aborted")); done <- err }()
	eventually(t, 5*time.Second, "the write to stall", func() bool { return ft.Stalled() >= 2 })
	_ = c.SetWriteDeadline(time.Unix(1, 0))
	expectTimeout(t, "aborted write", <-done)
	_ = c.SetWriteDeadline(time.Time{})

	// A write blocked by the cut goes out when it heals: nothing is lost.
	go func() { _, err := c.Write([]byte("held")); done <- err }()
	eventually(t, 5*time.Second, "the write to stall", func() bool { return ft.Stalled() >= 3 })
	// In still works.
	write(t, p, "in")
	if got := readFull(t, c, 2); got != "in" {
		t.Fatalf("in: got %q", got)
	}
	c.Heal()
	if err := <-done; err != nil {
		t.Fatalf("held write: %v", err)
	}
	if got := readFull(t, p, 4); got != "held" {
		t.Fatalf("peer got %q, want the held write (and not the timed-out ones)", got)
	}
}

func TestCutIn(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := acceptPair(t, ft)
	// A read already waiting when the cut starts is held too.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	got := readAsync(c)
	c.Cut(fault.In)
	write(t, p, "abc") // the peer's writes succeed
	// Out still works.
	write(t, c, "out")
	if got := readFull(t, p, 3); got != "out" {
		t.Fatalf("out: got %q", got)
	}
	p.Close() // the peer's close is held with its data
	r := recvWithin(t, got)
	if r.data != "" {
		t.Fatalf("read %q through a cut", r.data)
	}
	expectTimeout(t, "read under a cut", r.err)
	expectHeld(t, "read under a cut", c)
	c.Heal()
	if got := readFull(t, c, 3); got != "abc" {
		t.Fatalf("got %q after the heal, want everything the peer sent", got)
	}
	expectEOF(t, c)
}

func TestBlackholeHoldsClose(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Cut(fault.Both)
	// Close ends a Read blocked by the cut, at once.
	got := readAsync(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if r := recvWithin(t, got); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("blocked read after Close: %q, %v", r.data, r.err)
	}
	// The peer does not see the close while the cut holds...
	expectHeld(t, "the close under a cut", p)
	// ...and does once it heals.
	ft.Heal()
	expectEOF(t, p)
}

func TestCloseWriteHeld(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Cut(fault.Out)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("write after CloseWrite succeeded")
	}
	expectHeld(t, "the FIN under a cut", p)
	c.Heal()
	expectEOF(t, p)
	// The read side is still open.
	write(t, p, "ok")
	if got := readFull(t, c, 2); got != "ok" {
		t.Fatalf("got %q", got)
	}
}

func TestDelay(t *testing.T) {
	const d = 100 * time.Millisecond
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Delay(fault.Out, d)
	start := time.Now()
	write(t, c, "late")
	if got := readFull(t, p, 4); got != "late" {
		t.Fatalf("got %q", got)
	}
	if took := time.Since(start); took < d {
		t.Fatalf("delayed write arrived after %v, want at least %v", took, d)
	}
	// The deadline bounds a delayed write; nothing goes out.
	_ = c.SetWriteDeadline(time.Now().Add(d / 4))
	n, err := c.Write([]byte("never"))
	if n != 0 {
		t.Fatalf("wrote %d bytes", n)
	}
	expectTimeout(t, "delayed write past its deadline", err)
	_ = c.SetWriteDeadline(time.Time{})

	c.Heal()
	ft.Delay(fault.In, d, fault.All)
	start = time.Now()
	write(t, p, "slow")
	if got := readFull(t, c, 4); got != "slow" {
		t.Fatalf("got %q", got)
	}
	if took := time.Since(start); took < d {
		t.Fatalf("delayed read returned after %v, want at least %v", took, d)
	}
	ft.Heal()
	write(t, c, "now")
	if got := readFull(t, p, 3); got != "now" {
		t.Fatalf("got %q: the timed-out write went out", got)
	}
}

func TestSever(t *testing.T) {
	ft := fault.New(tcp.New())
	c, p := dialPair(t, ft)
	c.Cut(fault.Both) // severing goes through a cut
	got := readAsync(c)
	c.Sever()
	if r := recvWithin(t, got); !errors.Is(r.err, fault.ErrSevered) {
		t.Fatalf("blocked read after Sever: %q, %v", r.data, r.err)
	}
	expectEOF(t, p) // a reset or EOF, at once
	if _, err := c.Write([]byte("x")); !errors.Is(err, fault.ErrSevered) {
		t.Fatalf("write after Sever: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after Sever: %v", err)
	}
	if len(ft.Conns(fault.All)) != 0 {
		t.Fatal("severed conn still listed")
	}
}

func TestRulesAndDials(t *testing.T) {
	ft := fault.New(tcp.New())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	target := ln.Addr().String()
	nc, err := ft.Dial(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := nc.(*fault.Conn)
	p, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// A rule applies to connections already open...
	r := ft.Drop(fault.Out, fault.All)
	write(t, c, "lost")
	r.Heal()
	write(t, c, "kept")
	if got := readFull(t, p, 4); got != "kept" {
		t.Fatalf("got %q", got)
	}

	// ...and holds dials while it cuts.
	cut := ft.Cut(fault.Both, fault.RemoteAddr(target))
	ctx, cancel := context.WithTimeout(context.Background(), short)
	_, err = ft.Dial(ctx, target)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial under a cut: %v", err)
	}
	stalled := ft.Stalled()
	type dialResult struct {
		c   net.Conn
		err error
	}
	dialed := make(chan dialResult, 1)
	go func() {
		c, err := ft.Dial(context.Background(), target)
		dialed <- dialResult{c, err}
	}()
	eventually(t, 5*time.Second, "the dial to stall", func() bool { return ft.Stalled() > stalled && ft.HeldDials() == 1 })
	cut.Heal()
	select {
	case d := <-dialed:
		if d.err != nil {
			t.Fatalf("dial after the heal: %v", d.err)
		}
		d.c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("dial still held after the heal")
	}
	if n := ft.HeldDials(); n != 0 {
		t.Fatalf("%d dials still counted as held", n)
	}

	// A rule with a Match leaves other connections alone.
	other := ft.Cut(fault.Both, fault.RemoteAddr("127.0.0.1:1"))
	defer other.Heal()
	write(t, c, "free")
	if got := readFull(t, p, 4); got != "free" {
		t.Fatalf("got %q", got)
	}
}

func TestCutBetween(t *testing.T) {
	a, b, x := fault.New(tcp.New()), fault.New(tcp.New()), fault.New(tcp.New())
	ln, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	dial := func(ft *fault.Transport) (net.Conn, net.Conn) {
		t.Helper()
		d, err := ft.Dial(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(); acc.Close() })
		return d, acc
	}
	bd, ba := dial(b) // b's end, a's end
	xd, xa := dial(x)
	heal := fault.CutBetween(a, b)
	defer heal()
	if n := len(a.Conns(fault.Peer(b))); n != 1 {
		t.Fatalf("a has %d conns to b, want 1", n)
	}
	if n := len(b.Conns(fault.Peer(a))); n != 1 {
		t.Fatalf("b has %d conns to a, want 1", n)
	}
	// Writes on both ends block; reads on both ends see nothing.
	wrote := make(chan error, 2)
	stalled := a.Stalled() + b.Stalled()
	go func() { _, err := bd.Write([]byte("b->a")); wrote <- err }()
	go func() { _, err := ba.Write([]byte("a->b")); wrote <- err }()
	eventually(t, 5*time.Second, "both writes to stall", func() bool { return a.Stalled()+b.Stalled() >= stalled+2 })
	expectHeld(t, "a's end", ba)
	expectHeld(t, "b's end", bd)
	// x and a are not cut.
	write(t, xd, "x->a")
	if got := readFull(t, xa, 4); got != "x->a" {
		t.Fatalf("got %q", got)
	}
	// New dials between a and b are held.
	ctx, cancel := context.WithTimeout(context.Background(), short)
	_, err = b.Dial(ctx, addr)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b's dial to a under the cut: %v", err)
	}
	heal()
	for range 2 {
		if err := <-wrote; err != nil {
			t.Fatalf("held write: %v", err)
		}
	}
	if got := readFull(t, ba, 4); got != "b->a" {
		t.Fatalf("a got %q after the heal", got)
	}
	if got := readFull(t, bd, 4); got != "a->b" {
		t.Fatalf("b got %q after the heal", got)
	}
}
