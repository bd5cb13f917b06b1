package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// pemFiles writes cert's certificate and key as PEM files.
func pemFiles(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func tlsHub(t *testing.T, cert tls.Certificate) *broker.Server {
	t.Helper()
	return startHub(t, func(o *broker.LeafNodeOptions) {
		o.TLS = &broker.TLSOptions{Config: &tls.Config{Certificates: []tls.Certificate{cert}}}
	})
}

// Ours to ours over TLS: a leaf that trusts the hub's certificate
// connects; one that does not is refused in the handshake.
func TestLeafTLS(t *testing.T) {
	cert, pool := selfSigned(t, "hub")
	hub := tlsHub(t, cert)
	leaf := startLeafOf(t, "tls://"+hub.LeafAddr().String(), func(r *broker.RemoteLeaf) {
		r.TLS = &tls.Config{RootCAs: pool}
	})
	waitLeafs(t, leaf, 1)
	hc, lc := connectTCP(t, hub), connectTCP(t, leaf)
	s, _ := lc.SubscribeSync("secure")
	lc.Flush()
	ourInterest(t, hub)("the hub has the leaf's interest", []string{"secure"}, nil)
	hc.Publish("secure", []byte("x"))
	if m := leafRecv(t, s); string(m.Data) != "x" {
		t.Fatalf("got %q", m.Data)
	}
	untrusting := startLeafOf(t, leafURL(hub), nil) // the hub asks for TLS; system roots do not trust it
	eventually(t, 5*time.Second, "the untrusting leaf fails its TLS handshakes", func() bool {
		return untrusting.TLSFailures() >= 1
	})
	if n := hub.NumLeafs(); n != 1 {
		t.Fatalf("%d leaf connections on the hub, want 1", n)
	}
}

// TLS with nats-server in both roles.
func TestLeafInteropTLS(t *testing.T) {
	cert, pool := selfSigned(t, "hub")
	certFile, keyFile := pemFiles(t, cert)

	// A nats-server leaf, our TLS hub.
	hub := tlsHub(t, cert)
	theirLeaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, tls { ca_file: %q } } ]\nreconnect: \"100ms\"",
		"tls://"+hub.LeafAddr().String(), certFile))
	waitLeafs(t, hub, 1)
	exercise(t, connectTCP(t, hub), theirLeaf.connect(), ourInterest(t, hub), theirLeaf.waitInterest)

	// Our leaf, a nats-server TLS hub.
	theirHub := startNats(t, true, fmt.Sprintf("tls { cert_file: %q, key_file: %q }", certFile, keyFile))
	ours := startLeafOf(t, "tls://"+fmt.Sprintf("127.0.0.1:%d", theirHub.leafPort), func(r *broker.RemoteLeaf) {
		r.TLS = &tls.Config{RootCAs: pool}
	})
	waitLeafs(t, ours, 1)
	exercise(t, theirHub.connect(), connectTCP(t, ours), theirHub.waitInterest, ourInterest(t, ours))
}
