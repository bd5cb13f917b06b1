// Package quic is the QUIC transport: one QUIC connection per NATS client,
// carrying the unchanged NATS text protocol on the connection's first
// bidirectional stream.
//
// The wire mapping (ALPN, preface, error codes, keep-alive) is specified in
// docs/quic.md so that clients in other languages can implement it; the
// constants below are the Go side of that document and must not drift from it.
//
// Server side: New builds a Transport from a Config; Transport.Listen returns a
// Listener whose Accept yields *Conn values that are ready for the broker to
// send INFO. Client side: NewDialer returns a *Dialer that nats.go accepts via
// nats.SetCustomDialer.
package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	quicgo "github.com/quic-go/quic-go"

	"github.com/murmurmq/murmur/transport"
)

// ALPN is the TLS application protocol both sides must offer. A peer that
// offers anything else fails the TLS handshake (no_application_protocol), so a
// future incompatible mapping gets a new ALPN rather than a new preface.
const ALPN = "nats"

// Preface is what the client writes first on its stream, before any NATS
// protocol bytes. QUIC only announces a stream to the peer once data is sent on
// it, while in NATS the server speaks first (INFO); the preface breaks that
// deadlock and lets the server reject non-NATS peers before the broker sees them.
const Preface = "NATS\n"

// Application error codes sent in CONNECTION_CLOSE. They are part of the wire
// contract in docs/quic.md.
const (
	// CodeNoError is a normal close by either side.
	CodeNoError quicgo.ApplicationErrorCode = 0x0
	// CodeProtocolError closes a peer that sent a wrong preface or broke another
	// rule of the mapping.
	CodeProtocolError quicgo.ApplicationErrorCode = 0x1
	// CodePrefaceTimeout closes a peer that did not open its stream and send the
	// full preface within Config.PrefaceTimeout.
	CodePrefaceTimeout quicgo.ApplicationErrorCode = 0x2
	// CodeShutdown closes a connection the listener still held when it was
	// closed (the broker never accepted it).
	CodeShutdown quicgo.ApplicationErrorCode = 0x3
)

// Transport is the QUIC implementation of transport.Transport. It holds the
// server TLS identity, so its certificate fingerprint is known before Listen;
// SetCertificate replaces it for new connections.
type Transport struct {
	cfg       Config
	serverTLS atomic.Pointer[tlsIdentity]
	dialer    *Dialer
}

var _ transport.Transport = (*Transport)(nil)

// New validates cfg, loads or generates the server certificate and prepares
// the dialer used by Transport.Dial.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	id, err := loadIdentity(cfg)
	if err != nil {
		return nil, err
	}
	d, err := NewDialer(cfg.Dial)
	if err != nil {
		return nil, fmt.Errorf("quic: Config.Dial: %w", err)
	}
	t := &Transport{cfg: cfg, dialer: d}
	t.serverTLS.Store(id)
	return t, nil
}

// SetCertificate replaces the server certificate for new connections (those
// already up keep theirs) with the one in certFile and keyFile, or with a
// newly generated self-signed one when both are empty. It fails, changing
// nothing, when the files do not load, or when Config.TLS was given (that
// configuration is the caller's to change).
func (t *Transport) SetCertificate(certFile, keyFile string) error {
	if t.cfg.TLS != nil {
		return errors.New("quic: the certificate comes from Config.TLS")
	}
	cfg := t.cfg
	cfg.CertFile, cfg.KeyFile = certFile, keyFile
	if err := cfg.validate(); err != nil {
		return err
	}
	id, err := loadIdentity(cfg)
	if err != nil {
		return err
	}
	t.serverTLS.Store(id)
	return nil
}

// listenTLS is the tls.Config listeners are built with: each handshake takes
// the identity in force at that moment. A caller's Config.TLS is used as
// given (it may pick certificates itself through GetConfigForClient, which
// TLS would not call if nested in ours).
func (t *Transport) listenTLS() *tls.Config {
	if t.cfg.TLS != nil {
		return t.serverTLS.Load().config
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			id := t.serverTLS.Load()
			id.tickets.refresh()
			return id.config, nil
		},
	}
}

// Name implements transport.Transport.
func (t *Transport) Name() string { return "quic" }

// Fingerprint is the lowercase hex SHA-256 of the server certificate's DER
// encoding, the value clients pin with DialConfig.Fingerprint. It is empty when
// the certificate is chosen per handshake by a caller-supplied tls.Config.
func (t *Transport) Fingerprint() string { return t.serverTLS.Load().fingerprint }

// SelfSigned reports whether the certificate is one Murmur generated: at
// start-up because none was configured, or into CertFile/KeyFile
// (CreateCert set) on this or an earlier start. Clients can then trust it only
// by fingerprint, so the broker logs Fingerprint.
func (t *Transport) SelfSigned() bool { return t.serverTLS.Load().selfSigned }

// CertWritten reports whether the certificate in force was generated and
// written to Config.CertFile and KeyFile (Config.CreateCert) because
// neither file existed.
func (t *Transport) CertWritten() bool { return t.serverTLS.Load().written }

// Listen implements transport.Transport. addr is a UDP "host:port".
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	return t.ListenQUIC(addr)
}

// ListenQUIC is Listen with the concrete return type.
func (t *Transport) ListenQUIC(addr string) (*Listener, error) {
	laddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	ep, err := newEndpoint("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	ep.tr.StatelessResetKey = statelessResetKey(t.serverTLS.Load())
	ln, err := ep.tr.Listen(t.listenTLS(), t.cfg.serverQUIC())
	if err != nil {
		ep.close()
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	return newListener(ep, ln, t.cfg), nil
}

// Dial implements transport.Transport using the dialer built from Config.Dial,
// the same code path nats.go uses through NewDialer.
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := t.dialer.DialContext(ctx, addr)
	if err != nil {
		return nil, err // not c: a nil *Conn in a net.Conn is not a nil interface
	}
	return c, nil
}
