package quic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateCertPersists: with CreateCert, the first transport generates
// a self-signed pair and writes it (0600); the second, made from the same
// paths as after a restart, loads it: the fingerprint is the same, and a
// client that pinned the first connects to the second.
func TestCreateCertPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "quic") // created on demand
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	mk := func() *Transport {
		return newTestTransport(t, func(c *Config) { c.CertFile, c.KeyFile, c.CreateCert = certFile, keyFile, true })
	}
	first := mk()
	if !first.CertWritten() || !first.SelfSigned() || len(first.Fingerprint()) != 64 {
		t.Fatalf("first start: written %v, self-signed %v, fingerprint %q", first.CertWritten(), first.SelfSigned(), first.Fingerprint())
	}
	for _, f := range []string{certFile, keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	second := mk()
	if second.CertWritten() || !second.SelfSigned() {
		t.Fatalf("second start: written %v, self-signed %v; want the saved pair loaded", second.CertWritten(), second.SelfSigned())
	}
	if second.Fingerprint() != first.Fingerprint() {
		t.Fatalf("fingerprint changed across restarts: %s then %s", first.Fingerprint(), second.Fingerprint())
	}
	ln := listen(t, second)
	cfg := DefaultDialConfig()
	cfg.Fingerprint = first.Fingerprint()
	if err := dialWith(t, cfg, ln); err != nil {
		t.Fatalf("client pinned to the first start's fingerprint: %v", err)
	}
}

// TestCreateCertHalfPair: one file without the other is refused, naming
// both, rather than overwritten or paired with a new key.
func TestCreateCertHalfPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.CertFile, cfg.KeyFile, cfg.CreateCert = certFile, keyFile, true
	_, err := New(cfg)
	if err == nil || !strings.Contains(err.Error(), keyFile+" exists but "+certFile+" does not") {
		t.Fatalf("New with only the key present: %v", err)
	}
	if _, err := os.Stat(certFile); err == nil {
		t.Fatal("a certificate was written beside a foreign key")
	}
	// Without CreateCert, missing files are an error as before.
	os.Remove(keyFile)
	cfg.CreateCert = false
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "load certificate") {
		t.Fatalf("New without CreateCert and no files: %v", err)
	}
}

// TestNewDialerMalformedFingerprint: every malformed pin is an error from
// NewDialer with a nil Dialer, and a nil Dialer (the error ignored, as in
// `d, _ := quic.NewDialer(dc)`) fails to dial instead of panicking.
func TestNewDialerMalformedFingerprint(t *testing.T) {
	for _, fp := range []string{
		"abc",                    // too short
		strings.Repeat("a", 63),  // odd length
		strings.Repeat("a", 40),  // a SHA-1 digest
		strings.Repeat("zz", 32), // not hex
		strings.Repeat("a", 66),  // too long
		":::",                    // only separators
		"   ",                    // blank
		"sha256:" + strings.Repeat("ab", 32),
	} {
		cfg := DefaultDialConfig()
		cfg.Fingerprint = fp
		d, err := NewDialer(cfg)
		if err == nil || d != nil || !strings.Contains(err.Error(), "fingerprint") {
			t.Errorf("NewDialer(Fingerprint %q) = %v, %v; want nil and a fingerprint error", fp, d, err)
		}
	}
	var d *Dialer
	c, err := d.Dial("udp", "127.0.0.1:1")
	if err == nil || c != nil || !strings.Contains(err.Error(), "nil Dialer") {
		t.Fatalf("nil Dialer: %v, %v", c, err)
	}
}
