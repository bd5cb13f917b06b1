package quic

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/internal/testutil"
)

// dialWith dials ln with cfg and reports the error, closing any conn.
func dialWith(t *testing.T, cfg DialConfig, ln *Listener) error {
	t.Helper()
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	c, err := d.DialContext(context.Background(), ln.Addr().String())
	if err == nil {
		_ = c.CloseWithError(CodeNoError, "")
	}
	return err
}

func TestServerVerification(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	other := newTestTransport(t, nil) // a second self-signed identity

	pool := x509.NewCertPool()
	pool.AddCert(tr.serverTLS.Load().config.Certificates[0].Leaf)

	for _, tc := range []struct {
		name   string
		mutate func(*DialConfig)
		ok     bool
		errHas string // for failures: proves the dial failed for the right reason
	}{
		{"pinned fingerprint", func(c *DialConfig) { c.Fingerprint = tr.Fingerprint() }, true, ""},
		{"pinned, openssl style", func(c *DialConfig) { c.Fingerprint = opensslStyle(tr.Fingerprint()) }, true, ""},
		{"wrong fingerprint", func(c *DialConfig) { c.Fingerprint = other.Fingerprint() }, false, "does not match the pinned"},
		{"pinned set, second matches", func(c *DialConfig) { c.Fingerprints = []string{other.Fingerprint(), opensslStyle(tr.Fingerprint())} }, true, ""},
		{"pinned set and Fingerprint", func(c *DialConfig) {
			c.Fingerprint = other.Fingerprint()
			c.Fingerprints = []string{tr.Fingerprint()}
		}, true, ""},
		{"pinned set, none matches", func(c *DialConfig) { c.Fingerprints = []string{other.Fingerprint(), strings.Repeat("ab", 32)} }, false, "does not match the pinned"},
		{"CA pool holding the cert", func(c *DialConfig) { c.RootCAs = pool }, true, ""},
		{"CA pool, wrong name", func(c *DialConfig) { c.RootCAs = pool; c.ServerName = "example.com" }, false, "example.com"},
		{"system roots (default)", func(c *DialConfig) {}, false, "certificate"},
		{"explicit insecure", func(c *DialConfig) { c.InsecureSkipVerify = true }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultDialConfig()
			tc.mutate(&cfg)
			err := dialWith(t, cfg, ln)
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("dial error %v, want ok=%v (%q)", err, tc.ok, tc.errHas)
			}
		})
	}
}

// opensslStyle formats a fingerprint the way openssl prints it.
func opensslStyle(fp string) string {
	var parts []string
	for i := 0; i < len(fp); i += 2 {
		parts = append(parts, strings.ToUpper(fp[i:i+2]))
	}
	return strings.Join(parts, ":")
}

// TestWrongALPNRejected: a TLS 1.3 peer that does not offer "nats" never
// gets a connection.
func TestWrongALPNRejected(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	cfg := DefaultDialConfig()
	cfg.Fingerprint = tr.Fingerprint()
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.tls.NextProtos = []string{"h3"}
	if c, err := d.DialContext(context.Background(), ln.Addr().String()); err == nil {
		_ = c.Close()
		t.Fatal("dial with ALPN h3 succeeded")
	}
}

func TestDialConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*DialConfig)
		field  string // expected in the error text
	}{
		{"pin and insecure", func(c *DialConfig) { c.Fingerprint = strings.Repeat("a", 64); c.InsecureSkipVerify = true }, "at most one"},
		{"bad fingerprint", func(c *DialConfig) { c.Fingerprint = "abc" }, "fingerprint"},
		{"bad fingerprint in set", func(c *DialConfig) { c.Fingerprints = []string{strings.Repeat("a", 64), "xyz"} }, `"xyz"`},
		{"pin set and CA pool", func(c *DialConfig) {
			c.Fingerprints = []string{strings.Repeat("a", 64)}
			c.RootCAs = x509.NewCertPool()
		}, "at most one"},
		{"no timeout", func(c *DialConfig) { c.Timeout = 0 }, "Timeout"},
		{"keep-alive beyond idle", func(c *DialConfig) { c.KeepAlivePeriod = c.IdleTimeout }, "KeepAlivePeriod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultDialConfig()
			tc.mutate(&cfg)
			_, err := NewDialer(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("NewDialer error %v, want one naming %q", err, tc.field)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"cert without key", func(c *Config) { c.CertFile = "x.pem" }, "KeyFile"},
		{"TLS and files", func(c *Config) { c.TLS = &tls.Config{}; c.CertFile, c.KeyFile = "a", "b" }, "mutually exclusive"},
		{"zero idle", func(c *Config) { c.IdleTimeout = 0 }, "IdleTimeout"},
		{"no keep-alive", func(c *Config) { c.KeepAlivePeriod = 0 }, "KeepAlivePeriod"},
		{"zero backlog", func(c *Config) { c.Backlog = 0 }, "Backlog"},
		{"zero preface timeout", func(c *Config) { c.PrefaceTimeout = 0 }, "PrefaceTimeout"},
		{"tiny window", func(c *Config) { c.MaxReceiveWindow = 1 }, "MaxReceiveWindow"},
		{"TLS without cert", func(c *Config) { c.TLS = &tls.Config{} }, "no certificate"},
		{"bad dial config", func(c *Config) { c.Dial.Timeout = 0 }, "Config.Dial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("New error %v, want one naming %q", err, tc.field)
			}
		})
	}
}

// TestCertFiles: a PEM pair on disk is served, and Fingerprint is the digest
// an operator gets from openssl for the same file.
func TestCertFiles(t *testing.T) {
	cert, certFile, keyFile := certPair(t)

	tr := newTestTransport(t, func(c *Config) { c.CertFile, c.KeyFile = certFile, keyFile })
	if tr.SelfSigned() {
		t.Error("SelfSigned with a configured certificate")
	}
	if got, want := tr.Fingerprint(), CertFingerprint(cert.Certificate[0]); got != want {
		t.Fatalf("Fingerprint %s, want %s", got, want)
	}
	ln := listen(t, tr)
	cfg := DefaultDialConfig()
	cfg.Fingerprint = tr.Fingerprint()
	if err := dialWith(t, cfg, ln); err != nil {
		t.Fatal(err)
	}
}

// certPair writes a new certificate and its key as PEM files.
func certPair(t *testing.T) (cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	cert, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", key)
	return cert, certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSetCertificate: a new certificate (from files, or a new self-signed
// one) is served to the next handshakes on a listener that is already up;
// a pair that does not load changes nothing.
func TestSetCertificate(t *testing.T) {
	tr := newTestTransport(t, nil)
	ln := listen(t, tr)
	pinned := func(fp string) DialConfig {
		cfg := DefaultDialConfig()
		cfg.Fingerprint = fp
		return cfg
	}
	first := tr.Fingerprint()
	if err := dialWith(t, pinned(first), ln); err != nil {
		t.Fatal(err)
	}

	cert, certFile, keyFile := certPair(t)
	if err := tr.SetCertificate(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	fromFile := tr.Fingerprint()
	if fromFile != CertFingerprint(cert.Certificate[0]) || tr.SelfSigned() {
		t.Fatalf("after SetCertificate(files): fingerprint %s, self-signed %v", fromFile, tr.SelfSigned())
	}
	if err := dialWith(t, pinned(fromFile), ln); err != nil {
		t.Fatalf("new certificate not served: %v", err)
	}
	if err := dialWith(t, pinned(first), ln); err == nil || !strings.Contains(err.Error(), "does not match the pinned") {
		t.Fatalf("old certificate still served: %v", err)
	}

	if err := tr.SetCertificate(filepath.Join(t.TempDir(), "missing.pem"), keyFile); err == nil {
		t.Fatal("a missing certificate file was accepted")
	}
	if tr.Fingerprint() != fromFile {
		t.Fatal("a failed SetCertificate changed the certificate")
	}

	if err := tr.SetCertificate("", ""); err != nil {
		t.Fatal(err)
	}
	if fp := tr.Fingerprint(); !tr.SelfSigned() || fp == first || fp == fromFile {
		t.Fatalf("SetCertificate(\"\", \"\"): self-signed %v, fingerprint %s", tr.SelfSigned(), fp)
	}
	if err := dialWith(t, pinned(tr.Fingerprint()), ln); err != nil {
		t.Fatal(err)
	}
}

// sharedCAScript is the worked example of docs/quic.md ("A cluster that
// shares one CA"), with loopback names so the test can dial the result.
const sharedCAScript = `set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 3650 -subj "/CN=murmur cluster CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
for b in b1 b2; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout $b.key -out $b.csr -subj "/CN=$b"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > $b.ext
  openssl x509 -req -in $b.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 825 -extfile $b.ext -out $b.pem
done
`

// TestSharedCA: brokers with their own keys, signed by one CA made with the
// openssl commands of docs/quic.md, are all trusted by a client holding only
// the CA (no per-broker pin); a broker outside the CA is refused.
func TestSharedCA(t *testing.T) {
	// The script runs openssl from PATH.
	testutil.Tool(t, "openssl", testutil.InstallOpenSSL)
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", sharedCAScript)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	cfg := DefaultDialConfig()
	cfg.RootCAs = pool
	for _, b := range []string{"b1", "b2"} {
		tr := newTestTransport(t, func(c *Config) {
			c.CertFile, c.KeyFile = filepath.Join(dir, b+".pem"), filepath.Join(dir, b+".key")
		})
		if err := dialWith(t, cfg, listen(t, tr)); err != nil {
			t.Fatalf("%s, signed by the CA: %v", b, err)
		}
	}
	outsider := listen(t, newTestTransport(t, nil))
	if err := dialWith(t, cfg, outsider); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed broker outside the CA: %v", err)
	}
}
