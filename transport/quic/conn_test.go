package quic

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// TestRoundTrip moves more than one flow-control window each way, so the
// bytes cross many packets and window updates, not one datagram.
func TestRoundTrip(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	acc := acceptAsync(ln)
	cli := dial(t, tr, ln)
	srv := waitAccept(t, acc)

	if got, want := srv.RemoteAddr().(*net.UDPAddr).Port, cli.LocalAddr().(*net.UDPAddr).Port; got != want {
		t.Errorf("server RemoteAddr port %d, client LocalAddr port %d", got, want)
	}
	if got, want := srv.LocalAddr().String(), ln.Addr().String(); got != want {
		t.Errorf("server LocalAddr %s, listener Addr %s", got, want)
	}
	if p := srv.ConnectionState().NegotiatedProtocol; p != ALPN {
		t.Errorf("negotiated ALPN %q, want %q", p, ALPN)
	}

	// The server speaks first, as in NATS.
	info := []byte("INFO {\"server_id\":\"x\"}\r\n")
	if _, err := srv.Write(info); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, cli, len(info)); !bytes.Equal(got, info) {
		t.Fatalf("client read %q", got)
	}

	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	for _, dir := range []struct {
		name     string
		from, to *Conn
	}{{"client to server", cli, srv}, {"server to client", srv, cli}} {
		t.Run(dir.name, func(t *testing.T) {
			werr := make(chan error, 1)
			go func() { _, err := dir.from.Write(payload); werr <- err }()
			if got := readN(t, dir.to, len(payload)); !bytes.Equal(got, payload) {
				t.Fatal("payload corrupted")
			}
			if err := <-werr; err != nil {
				t.Fatalf("write: %v", err)
			}
		})
	}
}

// TestCloseDeliversPendingData checks the linger design: data written just
// before Close reaches the peer (a final -ERR from the server, the last PUB
// from a client), the peer reads io.EOF, and Close returns as soon as the peer
// closes in turn instead of waiting out the linger.
func TestCloseDeliversPendingData(t *testing.T) {
	tr := newTestTransport(t, func(c *Config) { c.CloseLinger = time.Minute })
	tr.dialer.linger = time.Minute
	ln := listen(t, tr)

	for _, serverCloses := range []bool{true, false} {
		acc := acceptAsync(ln)
		cli := dial(t, tr, ln)
		srv := waitAccept(t, acc)
		closer, peer := cli, srv
		if serverCloses {
			closer, peer = srv, cli
		}
		last := []byte("-ERR 'Authorization Violation'\r\n" + strings.Repeat("x", 256<<10))

		peerDone := make(chan []byte, 1)
		go func() {
			b, err := io.ReadAll(peer) // ReadAll stops at io.EOF, which it hides
			if err != nil {
				b = append(b, []byte("read error: "+err.Error())...)
			}
			_ = peer.Close() // what the broker and nats.go do on EOF
			peerDone <- b
		}()
		if _, err := closer.Write(last); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := closer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if d := time.Since(start); d > testTimeout {
			t.Fatalf("Close took %v: it waited out the linger instead of the peer's close", d)
		}
		if got := <-peerDone; !bytes.Equal(got, last) {
			t.Fatalf("serverCloses=%v: peer read %d bytes, want %d (tail %q)", serverCloses, len(got), len(last), got[max(0, len(got)-40):])
		}
	}
}

// TestCloseIsIdempotentAndUnblocks closes from many goroutines while a Write
// is stuck on flow control (the peer never reads) and a Read is waiting.
func TestCloseIsIdempotentAndUnblocks(t *testing.T) {
	tr := newTestTransport(t, func(c *Config) {
		c.CloseLinger = 200 * time.Millisecond // the peer never reads, so linger runs out
		c.MaxReceiveWindow = 64 << 10
	})
	ln := listen(t, tr)
	acc := acceptAsync(ln)
	cli := dial(t, tr, ln)
	srv := waitAccept(t, acc)

	writeErr := make(chan error, 1)
	go func() {
		big := make([]byte, 8<<20) // far beyond the client's receive window
		_, err := srv.Write(big)
		writeErr <- err
	}()
	readErr := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 10)); readErr <- err }()

	const closers = 8
	errs := make(chan error, closers)
	var wg sync.WaitGroup
	for range closers {
		wg.Go(func() { errs <- srv.Close() })
	}
	wg.Wait()
	close(errs)
	nils := 0
	for err := range errs {
		switch {
		case err == nil:
			nils++
		case !errors.Is(err, net.ErrClosed):
			t.Errorf("second Close: %v, want net.ErrClosed", err)
		}
	}
	if nils != 1 {
		t.Errorf("%d Close calls returned nil, want exactly 1", nils)
	}
	for name, ch := range map[string]chan error{"Write": writeErr, "Read": readErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("blocked %s returned %v, want net.ErrClosed", name, err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("blocked %s not released by Close", name)
		}
	}
	if _, err := srv.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	// The client sees the end of the stream, not a hang.
	if _, err := io.Copy(io.Discard, cli); err != nil && !errors.Is(err, io.EOF) {
		t.Logf("client read ended with %v", err)
	}
}

// TestDeadlines checks that deadlines pass through as net.Error timeouts.
func TestDeadlines(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	acc := acceptAsync(ln)
	_ = dial(t, tr, ln)
	srv := waitAccept(t, acc)

	if err := srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := srv.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past deadline: %v, want a timeout net.Error", err)
	}
}

// TestPeerVanishes: the client's socket disappears without a CONNECTION_CLOSE
// (a crashed host, a NAT dropping the binding). The server's blocked Read must
// fail once the idle timeout passes.
func TestPeerVanishes(t *testing.T) {
	tr := newTestTransport(t, func(c *Config) {
		c.IdleTimeout = 500 * time.Millisecond
		c.KeepAlivePeriod = 100 * time.Millisecond
	})
	ln := listen(t, tr)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	acc := acceptAsync(ln)
	qc := rawDial(t, ln.Addr(), pc)
	str, err := qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte(Preface)); err != nil {
		t.Fatal(err)
	}
	srv := waitAccept(t, acc)

	readErr := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 10)); readErr <- err }()
	// Closing the socket under quic-go: no CONNECTION_CLOSE can be sent.
	_ = pc.Close()
	select {
	case err := <-readErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read after peer vanished: %v, want an idle timeout", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Read still blocked long after the idle timeout")
	}
}

// TestDeadPeerNoticedByDefault: a server that vanishes without a
// CONNECTION_CLOSE (its socket and QUIC state destroyed at once, as in a
// SIGKILL) is noticed by a quiet client on DefaultDialConfig within 3 s
// (keep-alive plus idle timeout), not after the server's 30 s: the smaller
// idle timeout wins. The bound asserted is looser, to be about which
// timeout applies rather than about the machine's speed.
func TestDeadPeerNoticedByDefault(t *testing.T) {
	tr := newTestTransport(t, nil) // server on DefaultConfig: 30 s idle
	if tr.cfg.IdleTimeout <= DefaultDialIdleTimeout {
		t.Fatalf("server idle timeout %v: the test needs it above the client's", tr.cfg.IdleTimeout)
	}
	ln := listen(t, tr)
	acc := acceptAsync(ln)
	cli := dial(t, tr, ln)
	srv := waitAccept(t, acc)
	if _, err := srv.Write([]byte("INFO {}\r\n")); err != nil {
		t.Fatal(err)
	}
	readN(t, cli, len("INFO {}\r\n"))

	// Destroys every connection on the socket without a word on the wire,
	// then closes the socket.
	ln.ep.close()
	dead := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Read(make([]byte, 1))
		errc <- err
	}()
	var err error
	select {
	case err = <-errc:
	case <-time.After(testTimeout):
		t.Fatalf("client still reading %v after the server died (target: 3 s)", testTimeout)
	}
	t.Logf("dead server noticed after %v (target 3 s: keep-alive %v + idle timeout %v)",
		time.Since(dead).Round(time.Millisecond), DefaultDialKeepAlivePeriod, DefaultDialIdleTimeout)
	var idle *quicgo.IdleTimeoutError
	if !errors.As(err, &idle) {
		t.Fatalf("read error %v, want an idle timeout", err)
	}
}
