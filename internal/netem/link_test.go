package netem

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func newLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	if err := Check(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func listenIn(t *testing.T, l *Link, s Side, network, addr string) (ln net.Listener, pc net.PacketConn) {
	t.Helper()
	err := inNamespace(l.path(s), func() error {
		var err error
		if network == "udp" {
			pc, err = net.ListenPacket(network, addr)
		} else {
			ln, err = net.Listen(network, addr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ln, pc
}

// A TCP connection across the link: its handshake and an echo each take
// at least the round trip (twice the one-way delay), and a megabyte
// arrives intact in both directions.
func TestLinkDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	l := newLink(t, Config{Delay: delay})
	ln, _ := listenIn(t, l, B, "tcp", IPB+":7000")
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		done <- err
	}()
	t0 := time.Now()
	c, err := l.Dial(context.Background(), A, "tcp", IPB+":7000")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 2*delay {
		t.Fatalf("connected in %v, less than the round trip %v", d, 2*delay)
	}
	t0 = time.Now()
	c.Write([]byte("x"))
	one := make([]byte, 1)
	if _, err := io.ReadFull(c, one); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 2*delay || d > 2*delay+500*time.Millisecond {
		t.Fatalf("echo took %v, want about %v", d, 2*delay)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	go func() { c.Write(data); c.(*net.TCPConn).CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(got), len(data))
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The last ACKs may still be in the relay's queue.
	deadline := time.Now().Add(time.Second)
	for st := l.Stats(A); st.Packets == 0 || st.Delivered != st.Packets || st.Lost != 0; st = l.Stats(A) {
		if time.Now().After(deadline) {
			t.Fatalf("A→B stats %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Datagrams across a link with 10 % loss and jitter: about a tenth are
// lost (the relay's count agrees with what arrived), and the rest arrive
// in the order sent.
func TestLinkLossKeepsOrder(t *testing.T) {
	l := newLink(t, Config{Delay: 5 * time.Millisecond, Jitter: 4 * time.Millisecond, Loss: 0.1, Seed: 7})
	_, pc := listenIn(t, l, B, "udp", IPB+":7001")
	defer pc.Close()
	c, err := l.Dial(context.Background(), A, "udp", IPB+":7001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 2000
	type result struct{ got, reordered int }
	res := make(chan result, 1)
	go func() {
		var r result
		last := -1
		buf := make([]byte, 16)
		for {
			pc.SetReadDeadline(time.Now().Add(time.Second))
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				res <- r
				return
			}
			seq := int(binary.BigEndian.Uint32(buf[:k]))
			if seq <= last {
				r.reordered++
			}
			last = seq
			r.got++
		}
	}()
	for i := range n {
		c.Write(binary.BigEndian.AppendUint32(nil, uint32(i)))
		if i%20 == 19 {
			time.Sleep(time.Millisecond) // stay under the socket buffers
		}
	}
	r := <-res
	got := r.got
	if r.reordered > 0 {
		t.Fatalf("%d datagrams arrived out of order", r.reordered)
	}
	st := l.Stats(A)
	if got < n*80/100 || got > n*97/100 {
		t.Fatalf("%d of %d arrived with 10%% loss", got, n)
	}
	if st.Delivered != int64(got) || st.Lost+st.Delivered != st.Packets || st.Overflow != 0 {
		t.Fatalf("stats %+v, %d arrived", st, got)
	}
}

// The bandwidth cap: 2 MB at 1 MB/s takes about two seconds.
func TestLinkRate(t *testing.T) {
	l := newLink(t, Config{Rate: 1 << 20, Delay: time.Millisecond})
	ln, _ := listenIn(t, l, B, "tcp", IPB+":7002")
	defer ln.Close()
	n := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			n <- -1
			return
		}
		defer c.Close()
		k, _ := io.Copy(io.Discard, c)
		n <- k
	}()
	c, err := l.Dial(context.Background(), A, "tcp", IPB+":7002")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	c.Write(make([]byte, 2<<20))
	c.Close()
	if k := <-n; k != 2<<20 {
		t.Fatalf("received %d bytes", k)
	}
	if d := time.Since(t0); d < 1800*time.Millisecond || d > 4*time.Second {
		t.Fatalf("2 MiB at 1 MiB/s took %v", d)
	}
}

// Commands run inside a side's namespace, where only its own address is
// configured; Close removes both namespaces, and RemoveStale those of a
// process that is gone.
func TestLinkNamespaces(t *testing.T) {
	l := newLink(t, Config{TCPCongestion: "cubic"})
	for _, s := range []Side{A, B} {
		if cc, err := l.TCPCongestion(s); err != nil || cc != "cubic" {
			t.Fatalf("TCP congestion control in %s: %q, %v", s, cc, err)
		}
	}
	out, err := l.Command(A, "ip", "-4", "-o", "addr", "show", "dev", "netem0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), IPA+"/30") {
		t.Fatalf("ip addr in A: %v %s", err, out)
	}
	names := []string{l.Namespace(A), l.Namespace(B)}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Fatalf("%s still there after Close", ns)
		}
	}

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1a", Prefix, dead.Process.Pid)
	if err := run("ip", "netns", "add", stale); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run("ip", "netns", "del", stale) })
	RemoveStale()
	if _, err := os.Stat("/run/netns/" + stale); err == nil {
		t.Fatalf("stale %s not removed", stale)
	}
}
