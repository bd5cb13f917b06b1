package quic

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// tlsIdentity is the server's TLS configuration plus what operators need to
// know about its certificate.
type tlsIdentity struct {
	config      *tls.Config
	fingerprint string // "" when the certificate is chosen per handshake
	selfSigned  bool
	written     bool        // generated and written to CertFile/KeyFile (CreateCert)
	tickets     *ticketKeys // nil: crypto/tls's own, random per process (ticket.go)
}

// selfSignedValidity is long because a self-signed certificate is only ever
// trusted by fingerprint, and fingerprint pinning ignores validity dates; the
// dates matter only to tools that display them.
const selfSignedValidity = 365 * 24 * time.Hour

// selfSignedCN is the subject of the certificates Murmur generates.
const selfSignedCN = "murmur self-signed"

// loadIdentity picks the certificate source in the order TLS, files,
// generated, and applies what QUIC requires of every one of them.
func loadIdentity(cfg Config) (*tlsIdentity, error) {
	id := &tlsIdentity{}
	switch {
	case cfg.TLS != nil:
		id.config = cfg.TLS.Clone()
		if len(id.config.Certificates) == 0 && id.config.GetCertificate == nil && id.config.GetConfigForClient == nil {
			return nil, fmt.Errorf("quic: Config.TLS has no certificate")
		}
	case cfg.CertFile != "":
		cert, written, err := loadCertFiles(cfg.CertFile, cfg.KeyFile, cfg.CreateCert)
		if err != nil {
			return nil, err
		}
		id.config = &tls.Config{Certificates: []tls.Certificate{cert}}
		id.written = written
		id.selfSigned = written || (cfg.CreateCert && len(cert.Certificate) > 0 && generatedHere(cert.Certificate[0]))
	default:
		cert, err := selfSignedCert()
		if err != nil {
			return nil, fmt.Errorf("quic: generate self-signed certificate: %w", err)
		}
		id.config = &tls.Config{Certificates: []tls.Certificate{cert}}
		id.selfSigned = true
	}
	if len(id.config.Certificates) > 0 && len(id.config.Certificates[0].Certificate) > 0 {
		id.fingerprint = CertFingerprint(id.config.Certificates[0].Certificate[0])
	}
	id.config.NextProtos = []string{ALPN}
	id.config.MinVersion = tls.VersionTLS13
	id.tickets = newTicketKeys(id.config)
	if cfg.TLS != nil && id.tickets != nil {
		// Config.TLS is the listener's tls.Config itself (listenTLS), so
		// the day's keys are refreshed from its own callback.
		pick, tickets := id.config.GetConfigForClient, id.tickets
		id.config.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			tickets.refresh()
			if pick != nil {
				return pick(hello)
			}
			return nil, nil
		}
	}
	return id, nil
}

// selfSignedCert makes an ECDSA P-256 certificate for localhost, the loopback
// addresses and this host's name. P-256 because every TLS 1.3 stack supports it
// and it signs handshakes far faster than RSA.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	dns := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dns = append(dns, h)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: selfSignedCN},
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// CertFingerprint returns the lowercase hex SHA-256 of a DER certificate: the
// same digest `openssl x509 -noout -fingerprint -sha256` prints, without colons.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// parseFingerprint accepts the hex digest in either case, with or without the
// colons openssl puts between bytes, and returns the 32 raw bytes.
func parseFingerprint(s string) ([]byte, error) {
	clean := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("fingerprint %q is not a hex SHA-256 digest (64 hex digits)", s)
	}
	return b, nil
}
