package quic

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"
)

// DialConfig configures the client side. How the server is trusted is chosen
// by at most one of pinning (Fingerprint and Fingerprints), RootCAs and
// InsecureSkipVerify; with none of them the server must present a
// certificate valid for the dialed host under the system roots (or
// TLS.RootCAs). Start from DefaultDialConfig.
type DialConfig struct {
	// Fingerprint pins the server certificate: the hex SHA-256 of its DER
	// encoding (Transport.Fingerprint; colons and either case accepted). Chain,
	// host name and validity dates are not checked; the TLS handshake still
	// proves the server holds the certificate's key.
	Fingerprint string
	// Fingerprints pins a set: a server is accepted when its certificate
	// matches any of them (or Fingerprint). It is how one client fails over
	// among brokers that each generated their own self-signed certificate;
	// a cluster that shares a CA uses RootCAs instead (docs/quic.md).
	Fingerprints []string
	// RootCAs verifies the server against these CAs instead of the system's.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any server certificate. Only for tests and
	// trusted networks: it never happens unless set here or in TLS.
	InsecureSkipVerify bool
	// ServerName overrides the name checked against the certificate and sent as
	// SNI; by default the host part of the dialed address.
	ServerName string
	// TLS is an optional base (client certificates for mutual TLS, ...). It is
	// cloned; NextProtos is forced to [ALPN] and MinVersion to TLS 1.3.
	TLS *tls.Config

	// Timeout bounds the whole dial: QUIC handshake, stream and preface.
	Timeout time.Duration
	// HandshakeTimeout, IdleTimeout, KeepAlivePeriod, MaxReceiveWindow and
	// CloseLinger mean what they mean in Config, for the client's side.
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	KeepAlivePeriod  time.Duration
	MaxReceiveWindow uint64
	CloseLinger      time.Duration
}

// DefaultDialConfig returns a DialConfig that verifies the server against the
// system roots. Its idle timeout is DefaultDialIdleTimeout, not the server's
// DefaultIdleTimeout: the effective timeout is the smaller of both sides', so
// the client decides how soon it notices a dead broker and fails over.
func DefaultDialConfig() DialConfig {
	return DialConfig{
		Timeout:          DefaultDialTimeout,
		HandshakeTimeout: DefaultHandshakeTimeout,
		IdleTimeout:      DefaultDialIdleTimeout,
		KeepAlivePeriod:  DefaultDialKeepAlivePeriod,
		MaxReceiveWindow: DefaultMaxReceiveWindow,
		CloseLinger:      DefaultCloseLinger,
	}
}

// Dialer opens client connections. It satisfies nats.go's CustomDialer, so a
// client uses it as nats.Connect("nats://host:port", nats.SetCustomDialer(d))
// where port is the broker's QUIC (UDP) port. It is safe for concurrent use.
type Dialer struct {
	tls     *tls.Config
	quic    *quicgo.Config
	timeout time.Duration
	linger  time.Duration
}

// sessionCacheSize is how many servers' TLS sessions a Dialer keeps (by
// server name): the brokers of one cluster a client fails over among.
const sessionCacheSize = 64

// errNilDialer is what a nil *Dialer's Dial returns.
var errNilDialer = errors.New("quic: nil Dialer (NewDialer returned an error that was not checked)")

// NewDialer validates cfg and returns a Dialer; a malformed fingerprint,
// or conflicting trust options, is an error and a nil Dialer.
func NewDialer(cfg DialConfig) (*Dialer, error) {
	tc, err := cfg.clientTLS()
	if err == nil {
		err = errors.Join(checkTimeouts(cfg.HandshakeTimeout, cfg.IdleTimeout, cfg.KeepAlivePeriod, cfg.CloseLinger)...)
	}
	if err == nil && cfg.Timeout <= 0 {
		err = fmt.Errorf("Timeout must be > 0, got %v", cfg.Timeout)
	}
	if err == nil && cfg.MaxReceiveWindow < 64<<10 {
		err = fmt.Errorf("MaxReceiveWindow must be >= 64 KiB, got %d", cfg.MaxReceiveWindow)
	}
	if err != nil {
		return nil, fmt.Errorf("quic: invalid DialConfig: %w", err)
	}
	return &Dialer{
		tls: tc,
		quic: &quicgo.Config{
			HandshakeIdleTimeout: cfg.HandshakeTimeout,
			MaxIdleTimeout:       cfg.IdleTimeout,
			KeepAlivePeriod:      cfg.KeepAlivePeriod,
			// The server never opens streams; refuse any it tries to.
			MaxIncomingStreams:             -1,
			MaxIncomingUniStreams:          -1,
			MaxStreamReceiveWindow:         cfg.MaxReceiveWindow,
			MaxConnectionReceiveWindow:     cfg.MaxReceiveWindow,
			InitialStreamReceiveWindow:     min(cfg.MaxReceiveWindow, 512<<10),
			InitialConnectionReceiveWindow: min(cfg.MaxReceiveWindow, 512<<10),
			Tracer:                         qlog.DefaultConnectionTracer, // qlog files when QLOGDIR is set
		},
		timeout: cfg.Timeout,
		linger:  cfg.CloseLinger,
	}, nil
}

// clientTLS builds the client tls.Config from the trust options.
func (cfg *DialConfig) clientTLS() (*tls.Config, error) {
	pins := cfg.Fingerprints
	if cfg.Fingerprint != "" {
		pins = append([]string{cfg.Fingerprint}, pins...)
	}
	modes := 0
	for _, set := range []bool{len(pins) > 0, cfg.RootCAs != nil, cfg.InsecureSkipVerify} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		return nil, errors.New("set at most one of Fingerprint/Fingerprints, RootCAs and InsecureSkipVerify")
	}
	tc := &tls.Config{}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	tc.NextProtos = []string{ALPN}
	tc.MinVersion = tls.VersionTLS13
	if tc.ClientSessionCache == nil && !tc.SessionTicketsDisabled {
		// One cache per Dialer, so every redial through it (a leaf
		// remote's, nats.go's reconnects) resumes the last session with
		// that server (docs/quic.md §11).
		tc.ClientSessionCache = newSessionCache(sessionCacheSize)
	}
	if cfg.ServerName != "" {
		tc.ServerName = cfg.ServerName
	}
	switch {
	case len(pins) > 0:
		want := make([][]byte, 0, len(pins))
		for _, fp := range pins {
			b, err := parseFingerprint(fp)
			if err != nil {
				return nil, err
			}
			want = append(want, b)
		}
		// Chain verification is replaced, not skipped: VerifyConnection
		// rejects every certificate but the pinned ones. It runs on every
		// handshake, resumed ones too (VerifyPeerCertificate does not),
		// where it sees the certificate the resumed session was made with.
		tc.InsecureSkipVerify = true
		next := tc.VerifyConnection
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("quic: server sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			match := false
			for _, w := range want {
				if subtle.ConstantTimeCompare(sum[:], w) == 1 {
					match = true
				}
			}
			if !match {
				return fmt.Errorf("quic: server certificate fingerprint %s does not match the pinned one(s)", CertFingerprint(cs.PeerCertificates[0].Raw))
			}
			if next != nil {
				return next(cs)
			}
			return nil
		}
	case cfg.RootCAs != nil:
		tc.RootCAs = cfg.RootCAs
	case cfg.InsecureSkipVerify:
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

// Dial implements nats.go's CustomDialer. network is ignored: nats.go always
// passes "tcp", but the connection is QUIC over UDP to address.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.DialContext(context.Background(), address)
	if err != nil {
		return nil, err // not c: a nil *Conn in a net.Conn is not a nil interface
	}
	return c, nil
}

// SkipTLSHandshake tells nats.go not to wrap the connection in TLS: QUIC has
// already encrypted and authenticated it with TLS 1.3.
func (d *Dialer) SkipTLSHandshake() bool { return true }

// DialContext connects to address ("host:port", UDP), opens the stream and
// sends the Preface, so the returned Conn is ready for the server's INFO.
func (d *Dialer) DialContext(ctx context.Context, address string) (*Conn, error) {
	if d == nil {
		// The Dialer of a NewDialer call whose error was ignored, as
		// nats.SetCustomDialer(d) would use it: an error, not a panic.
		return nil, errNilDialer
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	qc, str, err := d.dialStream(ctx, address)
	if err != nil {
		return nil, fmt.Errorf("quic: dial %s: %w", address, err)
	}
	return newConn(qc, str, d.linger), nil
}

// dialStream runs the QUIC handshake, resuming the TLS session when the
// Dialer's session cache holds a ticket from an earlier connection to
// this server (a restarted hub with the same certificate key accepts it:
// ticket.go), then opens the stream and writes the Preface. Nothing goes
// as 0-RTT data: quic-go v0.65 has a data race when a stream is opened
// before the handshake completes (quic-go#4303, open), which -race
// reports on loopback; docs/quic.md §11.
func (d *Dialer) dialStream(ctx context.Context, address string) (*quicgo.Conn, *quicgo.Stream, error) {
	qc, err := d.dialQUIC(ctx, address)
	if err != nil {
		return nil, nil, err
	}
	str, err := writePreface(ctx, qc)
	if err != nil {
		_ = qc.CloseWithError(CodeProtocolError, "stream setup failed")
		return nil, nil, fmt.Errorf("open stream: %w", err)
	}
	return qc, str, nil
}

// writePreface opens the connection's stream and writes the Preface.
func writePreface(ctx context.Context, qc *quicgo.Conn) (*quicgo.Stream, error) {
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = str.SetWriteDeadline(deadline)
	_, err = str.Write([]byte(Preface))
	_ = str.SetWriteDeadline(time.Time{})
	return str, err
}

// dialQUIC runs the QUIC handshake from a socket of its own, closed as
// soon as the connection ends (see endpoint for why not quic.DialAddr).
func (d *Dialer) dialQUIC(ctx context.Context, address string) (*quicgo.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, err
	}
	network := "udp6"
	if raddr.IP.To4() != nil {
		network = "udp4"
	}
	ep, err := newEndpoint(network, nil)
	if err != nil {
		return nil, err
	}
	tc := d.tls.Clone()
	if tc.ServerName == "" {
		tc.ServerName = host // what the certificate is checked against, and the SNI
	}
	qc, err := ep.tr.Dial(ctx, raddr, tc, d.quic)
	if err != nil {
		ep.close()
		return nil, err
	}
	context.AfterFunc(qc.Context(), ep.close)
	return qc, nil
}
