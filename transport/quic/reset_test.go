package quic

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// A listener restarted from the same certificate files answers a packet
// of a connection its previous life had with a stateless reset, and the
// dialer's connection ends at once instead of at its idle timeout.
func TestStatelessResetAfterRestart(t *testing.T) {
	dir := t.TempDir()
	files := func(c *Config) {
		c.CertFile, c.KeyFile, c.CreateCert = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), true
	}
	first := newTestTransport(t, files)
	ln := listen(t, first)
	addr := ln.Addr().String()

	client := newTestTransport(t, func(c *Config) {
		// Idle detection far beyond the test's wait: only a reset can end it.
		c.Dial.IdleTimeout, c.Dial.KeepAlivePeriod = time.Minute, 30*time.Second
	})
	dc := client.cfg.Dial
	dc.Fingerprint = first.Fingerprint()
	d, err := NewDialer(dc)
	if err != nil {
		t.Fatal(err)
	}
	accepted := acceptAsync(ln)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(CodeNoError, "")
	waitAccept(t, accepted)

	// The crash: the socket and quic-go's state go without a
	// CONNECTION_CLOSE, as with SIGKILL.
	ln.ep.close()
	second := newTestTransport(t, files)
	if second.Fingerprint() != first.Fingerprint() {
		t.Fatal("the restarted transport has another certificate")
	}
	ln2, err := second.ListenQUIC(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()

	t0 := time.Now()
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		readErr <- err
	}()
	// A packet large enough to be answered (quic-go never resets tiny ones).
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		var sr *quicgo.StatelessResetError
		if !errors.As(err, &sr) {
			t.Fatalf("the connection ended with %v, want a stateless reset", err)
		}
		t.Logf("reset after %v", time.Since(t0).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("no stateless reset within 5s of writing to the restarted listener")
	}
}

// The key is a function of the certificate's private key: the same files
// give the same key, another certificate another key.
func TestStatelessResetKeyDerived(t *testing.T) {
	dir := t.TempDir()
	files := func(c *Config) {
		c.CertFile, c.KeyFile, c.CreateCert = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), true
	}
	a, b, other := newTestTransport(t, files), newTestTransport(t, files), newTestTransport(t, nil)
	ka, kb, ko := statelessResetKey(a.serverTLS.Load()), statelessResetKey(b.serverTLS.Load()), statelessResetKey(other.serverTLS.Load())
	if ka == nil || kb == nil || ko == nil {
		t.Fatal("no key derived")
	}
	if *ka != *kb || *ka == *ko {
		t.Fatalf("keys: same files %x / %x, other cert %x", ka[:4], kb[:4], ko[:4])
	}
	if statelessResetKey(&tlsIdentity{}) != nil {
		t.Fatal("a key without a certificate")
	}
}
