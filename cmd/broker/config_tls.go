package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// tlsBlock is a tls block as written (nats-server parseTLS), before its
// files are loaded.
type tlsBlock struct {
	certFile, keyFile, caFile *conf.Value
	verify, insecure          bool
	minVersion                uint16
	ciphers                   []uint16
	curves                    []tls.CurveID
	pinned                    map[string]bool
	opts                      broker.TLSOptions // handshake_first, timeout, verify_and_map
}

// decodeTLS reads a client listener's tls block and loads its files.
// Files are read now, so a reload picks up a rotated certificate.
func decodeTLS(v *conf.Value) (*broker.TLSOptions, error) {
	b, err := decodeTLSBlock(v)
	if err != nil {
		return nil, err
	}
	cfg, err := b.config(v)
	if err != nil {
		return nil, err
	}
	t := b.opts
	t.Config = cfg
	return &t, nil
}

func decodeTLSBlock(v *conf.Value) (*tlsBlock, error) {
	b := &tlsBlock{}
	ks := keys{
		"cert_file":       keep(&b.certFile),
		"key_file":        keep(&b.keyFile),
		"ca_file":         keep(&b.caFile),
		"verify":          boolean(&b.verify),
		"insecure":        boolean(&b.insecure),
		"handshake_first": handshakeFirst(&b.opts.HandshakeFirst),
		"timeout":         duration(&b.opts.Timeout),
		"verify_and_map": func(v *conf.Value) error {
			m, err := v.AsBool()
			b.opts.Map, b.verify = m, b.verify || m
			return err
		},
		"min_version": func(v *conf.Value) error {
			s, err := v.AsString()
			if err != nil {
				return err
			}
			versions := map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}
			if b.minVersion = versions[s]; b.minVersion == 0 {
				return v.Errorf("%q: want \"1.2\" or \"1.3\" (older versions are not offered)", s)
			}
			return nil
		},
		"cipher_suites":     cipherSuites(&b.ciphers),
		"curve_preferences": curvePreferences(&b.curves),
		"pinned_certs": func(v *conf.Value) error {
			l, err := v.AsStrings()
			if err != nil {
				return err
			}
			b.pinned = map[string]bool{}
			for _, s := range l {
				s = strings.ToLower(s)
				if raw, err := hex.DecodeString(s); err != nil || len(raw) != sha256.Size {
					return v.Errorf("%q is not the hex SHA-256 of a DER SubjectPublicKeyInfo", s)
				}
				b.pinned[s] = true
			}
			return nil
		},
	}
	ks["first"], ks["immediate"] = ks["handshake_first"], ks["handshake_first"]
	if err := block(refuse(ks, refusedTLS))(v); err != nil {
		return nil, err
	}
	if b.certFile == nil || b.keyFile == nil {
		return nil, v.Errorf("cert_file and key_file are required")
	}
	return b, nil
}

// config loads the files and builds a server-side configuration.
func (b *tlsBlock) config(v *conf.Value) (*tls.Config, error) {
	ca := ""
	if b.caFile != nil {
		ca = b.caFile.Str
	}
	cfg, err := serverTLS(b.certFile.Str, b.keyFile.Str, ca, b.verify)
	if err != nil {
		var ce *caError
		if errors.As(err, &ce) {
			return nil, b.caFile.Errorf("%v", ce.err)
		}
		return nil, b.certFile.Errorf("%v", err)
	}
	if b.minVersion != 0 {
		cfg.MinVersion = b.minVersion
	}
	cfg.CipherSuites = b.ciphers
	cfg.CurvePreferences = b.curves
	cfg.InsecureSkipVerify = b.insecure // meaningful only where this side dials (routes)
	if len(b.pinned) > 0 {
		pinned := b.pinned
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no certificate to check against pinned_certs")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
			if !pinned[hex.EncodeToString(sum[:])] {
				return errors.New("tls: certificate not in pinned_certs")
			}
			return nil
		}
	}
	return cfg, nil
}

// handshakeFirst takes true/false, or nats-server's "on"/"off"; its
// "auto" and fallback delays (TLS-first and INFO-first clients on one
// port) are refused.
func handshakeFirst(dst *bool) setter {
	return func(v *conf.Value) error {
		if v.Kind == conf.Bool {
			*dst = v.Bool
			return nil
		}
		s, err := v.AsString()
		if err != nil {
			return v.Errorf("want a boolean, got %s", v.Kind)
		}
		switch strings.ToLower(s) {
		case "true", "on":
			*dst = true
		case "false", "off":
			*dst = false
		default:
			return v.Errorf("not supported by Murmur (%q: a port is TLS-first or INFO-first, with no fallback between them)", s)
		}
		return nil
	}
}

// cipherSuites takes Go's names of the secure TLS 1.2 cipher suites, as
// nats-server does (TLS 1.3 suites are not configurable in Go).
func cipherSuites(dst *[]uint16) setter {
	return func(v *conf.Value) error {
		l, err := v.AsStrings()
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return v.Errorf("cannot be empty")
		}
		known := map[string]uint16{}
		for _, cs := range tls.CipherSuites() {
			known[cs.Name] = cs.ID
		}
		insecure := map[string]bool{}
		for _, cs := range tls.InsecureCipherSuites() {
			insecure[cs.Name] = true
		}
		*dst = nil
		for _, name := range l {
			id, ok := known[name]
			switch {
			case insecure[name]:
				return v.Errorf("%s is an insecure cipher suite (allow_insecure_cipher_suites is not supported)", name)
			case !ok:
				return v.Errorf("unrecognized cipher %s", name)
			}
			*dst = append(*dst, id)
		}
		return nil
	}
}

// curvePreferences takes nats-server's curve names.
func curvePreferences(dst *[]tls.CurveID) setter {
	known := map[string]tls.CurveID{
		"X25519MLKEM768": tls.X25519MLKEM768,
		"X25519":         tls.X25519,
		"CurveP256":      tls.CurveP256,
		"CurveP384":      tls.CurveP384,
		"CurveP521":      tls.CurveP521,
	}
	return func(v *conf.Value) error {
		l, err := v.AsStrings()
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return v.Errorf("cannot be empty")
		}
		*dst = nil
		for _, name := range l {
			id, ok := known[name]
			if !ok {
				return v.Errorf("unrecognized curve preference %s", name)
			}
			*dst = append(*dst, id)
		}
		return nil
	}
}

// caError is a problem with the CA file (not the key pair).
type caError struct{ err error }

func (e *caError) Error() string { return e.err.Error() }

// caPool reads the PEM certificates of the CA file path.
func caPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificates in %s", path)
	}
	return pool, nil
}

// serverTLS is a server TLS configuration from PEM files: the key pair,
// and with ca the client CAs (verify: clients must present a certificate
// they signed).
func serverTLS(certFile, keyFile, ca string, verify bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the key pair: %v", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if ca != "" {
		pool, err := caPool(ca)
		if err != nil {
			return nil, &caError{err}
		}
		cfg.ClientCAs = pool
	}
	if verify {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
