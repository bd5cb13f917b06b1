package quic

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadCertFiles loads the PEM pair at certFile and keyFile. With create
// set and both files missing, it first generates a self-signed pair
// (selfSignedCert) and writes it there, so the certificate, and the
// fingerprint clients pin, stay the same across restarts; written tells
// that it did. One file without the other is an error either way.
func loadCertFiles(certFile, keyFile string, create bool) (cert tls.Certificate, written bool, err error) {
	if create {
		certMissing, keyMissing := missing(certFile), missing(keyFile)
		switch {
		case certMissing && keyMissing:
			if cert, err = writeSelfSigned(certFile, keyFile); err != nil {
				return tls.Certificate{}, false, fmt.Errorf("quic: write a self-signed certificate to %s / %s: %w", certFile, keyFile, err)
			}
			return cert, true, nil
		case certMissing != keyMissing:
			have, lack := certFile, keyFile
			if certMissing {
				have, lack = keyFile, certFile
			}
			return tls.Certificate{}, false, fmt.Errorf("quic: %s exists but %s does not: give both, or remove %s to have a new pair generated", have, lack, have)
		}
	}
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("quic: load certificate %s / %s: %w", certFile, keyFile, err)
	}
	return cert, false, nil
}

func missing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// writeSelfSigned generates a certificate and writes the key, then the
// certificate, each readable by the owner only (0600) and created
// exclusively, so a concurrent writer is an error rather than a mix of
// two pairs. The directories are created (0700) when missing.
func writeSelfSigned(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := selfSignedCert()
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeExclusive(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeExclusive(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})); err != nil {
		os.Remove(keyFile) // no key without its certificate
		return tls.Certificate{}, err
	}
	return cert, nil
}

func writeExclusive(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// generatedHere reports whether der is a certificate selfSignedCert made
// (on an earlier start, saved by CreateCert): signed by its own key, under
// selfSignedCN. An operator's own self-signed certificate is not, and its
// fingerprint is the operator's to hand out.
func generatedHere(der []byte) bool {
	c, err := x509.ParseCertificate(der)
	return err == nil && c.Subject.CommonName == selfSignedCN &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
