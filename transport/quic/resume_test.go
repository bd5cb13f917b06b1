package quic

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// certFiles makes a Config use (and on first use create) the pair in dir,
// so a restarted transport has the same certificate and key.
func certFiles(dir string) func(*Config) {
	return func(c *Config) {
		c.CertFile, c.KeyFile, c.CreateCert = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), true
	}
}

// crash ends a listener as SIGKILL would: its socket and quic-go's state
// go without a CONNECTION_CLOSE.
func crash(ln *Listener) { ln.ep.close() }

// relisten listens with tr on addr (a crashed listener's), closed at cleanup.
func relisten(t *testing.T, tr *Transport, addr string) *Listener {
	t.Helper()
	ln, err := tr.ListenQUIC(addr)
	if err != nil {
		t.Fatalf("Listen %s again: %v", addr, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// dialThrough dials addr through d; the conn is closed at cleanup.
func dialThrough(t *testing.T, d *Dialer, addr string) (*Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, addr)
	if err == nil {
		t.Cleanup(func() { _ = c.CloseWithError(CodeNoError, "") })
	}
	return c, err
}

// connected dials addr through d and takes the server's side from ln.
func connected(t *testing.T, d *Dialer, ln *Listener) (client, server *Conn) {
	t.Helper()
	accepted := acceptAsync(ln)
	c, err := dialThrough(t, d, ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c, waitAccept(t, accepted)
}

// echo checks that bytes cross both ways after the preface: what the
// broker does (INFO out, CONNECT in) with other bytes.
func echo(t *testing.T, client, server *Conn) {
	t.Helper()
	if _, err := server.Write([]byte("INFO {}\r\n")); err != nil {
		t.Fatalf("server write: %v", err)
	}
	if got := string(readN(t, client, 9)); got != "INFO {}\r\n" {
		t.Fatalf("client read %q", got)
	}
	if _, err := client.Write([]byte("PING\r\n")); err != nil {
		t.Fatalf("client write: %v", err)
	}
	if got := string(readN(t, server, 6)); got != "PING\r\n" {
		t.Fatalf("server read %q", got)
	}
}

// awaitTicket waits until d holds a session for the loopback server: the
// ticket comes after the handshake, in its own packet.
func awaitTicket(t *testing.T, d *Dialer) {
	t.Helper()
	waitFor(t, "a session ticket", func() bool {
		_, ok := d.tls.ClientSessionCache.Get("127.0.0.1")
		return ok
	})
}

// A listener restarted (after a crash) with the same certificate files
// resumes the session of a dialer that connected before (no 0-RTT data:
// docs/quic.md §11); bytes then cross both ways.
func TestResumptionAfterRestart(t *testing.T) {
	files := certFiles(t.TempDir())
	hub := newTestTransport(t, files)
	ln := listen(t, hub)
	addr := ln.Addr().String()
	d := hub.dialer // pinned to the certificate

	c, s := connected(t, d, ln)
	if c.ConnectionState().DidResume || s.ConnectionState().DidResume {
		t.Fatal("the first connection resumed a session")
	}
	echo(t, c, s)
	awaitTicket(t, d)

	crash(ln)
	ln2 := relisten(t, newTestTransport(t, files), addr)
	c2, s2 := connected(t, d, ln2)
	if !c2.ConnectionState().DidResume || !s2.ConnectionState().DidResume {
		t.Fatalf("resumed: client %v, server %v; want both", c2.ConnectionState().DidResume, s2.ConnectionState().DidResume)
	}
	echo(t, c2, s2)
}

// A listener restarted with another certificate cannot decrypt the old
// ticket: the dialer falls back to a full handshake and the connection
// works. A dialer that pins only the old certificate is refused,
// resumption or not.
func TestResumptionOtherCertificate(t *testing.T) {
	hubA := newTestTransport(t, certFiles(t.TempDir()))
	hubB := newTestTransport(t, certFiles(t.TempDir()))
	dc := hubA.cfg.Dial
	dc.Fingerprints = []string{hubA.Fingerprint(), hubB.Fingerprint()}
	both, err := NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}
	onlyA := hubA.dialer
	ln := listen(t, hubA)
	addr := ln.Addr().String()
	for _, d := range []*Dialer{both, onlyA} {
		c, s := connected(t, d, ln)
		echo(t, c, s)
		awaitTicket(t, d)
	}

	crash(ln)
	ln2 := relisten(t, hubB, addr)
	c, s := connected(t, both, ln2)
	if c.ConnectionState().DidResume || s.ConnectionState().DidResume {
		t.Fatal("resumed a session of another certificate")
	}
	echo(t, c, s)

	if _, err := dialThrough(t, onlyA, addr); err == nil {
		t.Fatal("a dialer pinning the old certificate accepted the new one")
	}
}

// Mutual TLS survives resumption: a trusted client resumes and the server
// still sees its certificate; a client the restarted server no
// longer trusts (another CA, or a pin on another client key) is refused
// although it offers a ticket, and the listener hands the broker nothing
// of it; a client with a wrong certificate never gets a ticket.
func TestResumptionKeepsClientAuth(t *testing.T) {
	serverCert, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	ca, otherCA := testutil.NewCA(t, "clients"), testutil.NewCA(t, "others")
	good, stranger := ca.Client(t, "good"), otherCA.Client(t, "stranger")
	pin := func(cert tls.Certificate) func(tls.ConnectionState) error {
		want := sha256.Sum256(cert.Certificate[0])
		return func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || sha256.Sum256(cs.PeerCertificates[0].Raw) != want {
				return errors.New("client not pinned")
			}
			return nil
		}
	}
	server := func(pool *x509.CertPool, verify func(tls.ConnectionState) error) *Transport {
		return newTestTransport(t, func(c *Config) {
			c.TLS = &tls.Config{
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool,
				VerifyConnection: verify,
			}
		})
	}
	dialer := func(cert tls.Certificate) *Dialer {
		dc := DefaultDialConfig()
		dc.Fingerprint = CertFingerprint(serverCert.Certificate[0])
		dc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		d, err := NewDialer(dc)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// refused checks that a client of d is refused by ln, and that nothing
	// it sends after the Preface reaches the broker: the TLS handshake
	// can fail after a 0-RTT Preface was taken (a resumed session is
	// checked by VerifyConnection only in the client's second flight), so
	// Accept may return the connection, but Read never returns its bytes.
	refused := func(t *testing.T, d *Dialer, ln *Listener) {
		t.Helper()
		accepted := acceptAsync(ln)
		c, err := dialThrough(t, d, ln.Addr().String())
		if err == nil {
			// The client's side may complete before the server checks it.
			_, _ = c.Write([]byte("CONNECT {}\r\n"))
			if _, err := c.Read(make([]byte, 64)); err == nil {
				t.Fatal("a refused client read data")
			}
		}
		// One slot is the accept loop's own, held while it waits.
		waitFor(t, "the refused connection to leave the listener", func() bool { return len(ln.slots) <= 1 })
		select {
		case r := <-accepted:
			if r.err != nil {
				t.Fatalf("Accept: %v", r.err)
			}
			buf := make([]byte, 64)
			if n, err := r.c.Read(buf); err == nil {
				t.Fatalf("the broker read %q from a refused client", buf[:n])
			}
			_ = r.c.Close()
		default:
		}
	}
	// resumable returns a dialer of good holding a ticket, and the
	// address of the crashed listener that issued it.
	resumable := func(t *testing.T) (*Dialer, string) {
		ln := listen(t, server(ca.Pool, pin(good)))
		d := dialer(good)
		c, s := connected(t, d, ln)
		echo(t, c, s)
		awaitTicket(t, d)
		crash(ln)
		return d, ln.Addr().String()
	}

	t.Run("resumes", func(t *testing.T) {
		d, addr := resumable(t)
		c, s := connected(t, d, relisten(t, server(ca.Pool, pin(good)), addr))
		if !c.ConnectionState().DidResume || !s.ConnectionState().DidResume {
			t.Fatalf("resumed: client %v, server %v", c.ConnectionState().DidResume, s.ConnectionState().DidResume)
		}
		if pc := s.ConnectionState().PeerCertificates; len(pc) == 0 || pc[0].Subject.CommonName != "good" {
			t.Fatalf("server sees client certificates %v", pc)
		}
		echo(t, c, s)
	})
	t.Run("CANoLongerTrusted", func(t *testing.T) {
		d, addr := resumable(t)
		refused(t, d, relisten(t, server(otherCA.Pool, nil), addr))
	})
	t.Run("PinnedOtherClient", func(t *testing.T) {
		d, addr := resumable(t)
		refused(t, d, relisten(t, server(ca.Pool, pin(stranger)), addr))
	})
	t.Run("WrongCertificate", func(t *testing.T) {
		ln := listen(t, server(ca.Pool, nil))
		addr := ln.Addr().String()
		d := dialer(stranger)
		refused(t, d, ln)
		crash(ln)
		refused(t, d, relisten(t, server(ca.Pool, nil), addr))
		if _, ok := d.tls.ClientSessionCache.Get("127.0.0.1"); ok {
			t.Fatal("a refused client holds a ticket")
		}
	})
}

// Ticket keys rotate by UTC day: a listener restarted the next day still
// resumes yesterday's tickets, one two days later does not (and the
// connection works after a full handshake).
func TestTicketKeysRotate(t *testing.T) {
	files := certFiles(t.TempDir())
	for _, tc := range []struct {
		days   int
		resume bool
	}{{0, true}, {1, true}, {2, false}} {
		hub := newTestTransport(t, files)
		ln := listen(t, hub)
		addr := ln.Addr().String()
		c, s := connected(t, hub.dialer, ln)
		echo(t, c, s)
		awaitTicket(t, hub.dialer)
		crash(ln)

		later := newTestTransport(t, files)
		later.serverTLS.Load().tickets.now = func() time.Time { return time.Now().Add(time.Duration(tc.days) * ticketKeyDay) }
		c, s = connected(t, hub.dialer, relisten(t, later, addr))
		if got := c.ConnectionState().DidResume; got != tc.resume || s.ConnectionState().DidResume != tc.resume {
			t.Fatalf("%d days later: resumed %v (server %v); want %v", tc.days, got, s.ConnectionState().DidResume, tc.resume)
		}
		echo(t, c, s)
	}
}

// The ticket keys are a function of the certificate's private key and the
// day, and share nothing with the stateless reset key.
func TestTicketKeysDerived(t *testing.T) {
	files := certFiles(t.TempDir())
	a, b, other := newTestTransport(t, files), newTestTransport(t, files), newTestTransport(t, nil)
	ka, kb, ko := a.serverTLS.Load().tickets, b.serverTLS.Load().tickets, other.serverTLS.Load().tickets
	if ka == nil || kb == nil || ko == nil {
		t.Fatal("no ticket keys derived")
	}
	const day = 20_000
	if ka.key(day) != kb.key(day) || ka.key(day) == ko.key(day) || ka.key(day) == ka.key(day+1) {
		t.Fatal("ticket keys do not follow the certificate key and the day")
	}
	if rk := statelessResetKey(a.serverTLS.Load()); rk == nil || [32]byte(*rk) == ka.key(day) {
		t.Fatal("ticket key equals the reset key")
	}
	if newTicketKeys(&tls.Config{}) != nil || newTicketKeys(&tls.Config{Certificates: a.serverTLS.Load().config.Certificates, SessionTicketsDisabled: true}) != nil {
		t.Fatal("keys derived without a certificate, or with tickets disabled")
	}
}
