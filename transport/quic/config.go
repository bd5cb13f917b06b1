package quic

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"
)

// Config configures the server side of the transport (and, through Dial, the
// client side of Transport.Dial). Start from DefaultConfig; zero durations are
// rejected by validation rather than silently replaced, so a flag that parses
// to 0 is noticed.
type Config struct {
	// TLS, when set, supplies the server certificate (Certificates,
	// GetCertificate or GetConfigForClient) and any client-auth policy. It is
	// cloned; NextProtos is forced to [ALPN] and MinVersion to TLS 1.3.
	TLS *tls.Config
	// CertFile and KeyFile are a PEM certificate chain and key, used when TLS is
	// nil. Both or neither must be set.
	CertFile, KeyFile string
	// CreateCert, with CertFile and KeyFile set and neither file present,
	// generates a self-signed certificate and writes the pair there (mode
	// 0600), so it and its fingerprint survive restarts. One file present
	// without the other is an error.
	CreateCert bool
	// With neither TLS nor CertFile, a self-signed ECDSA P-256 certificate is
	// generated at start-up; clients pin it via Transport.Fingerprint.

	// HandshakeTimeout bounds the QUIC/TLS handshake (quic-go's
	// HandshakeIdleTimeout; the whole handshake may take twice this).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection after this long without any packet from
	// the peer. The effective value is the smaller of both sides' values.
	IdleTimeout time.Duration
	// KeepAlivePeriod is how often a QUIC PING is sent when the connection is
	// otherwise quiet (quic-go caps it at half the effective IdleTimeout). It
	// must be set: NATS pings every 2 minutes by default, far longer than any
	// sensible IdleTimeout, and NAT bindings for UDP expire in about 30 s.
	KeepAlivePeriod time.Duration
	// PrefaceTimeout is how long a new connection may take, after its first flight,
	// to open its stream and send the full Preface before it is closed with
	// CodePrefaceTimeout.
	PrefaceTimeout time.Duration
	// Backlog bounds connections that finished the QUIC handshake but are not
	// yet taken by Accept (waiting for their preface or for the broker). When it
	// is full the listener stops taking connections from quic-go, whose own
	// small queue then refuses new ones; this bounds memory under a flood of
	// peers that never send a preface.
	Backlog int
	// MaxReceiveWindow caps the flow-control window (and so the bytes buffered
	// for a reader that falls behind) per connection. Only one stream carries
	// data, so it is used for both the stream and the connection limit.
	MaxReceiveWindow uint64
	// CloseLinger is how long Conn.Close waits for the peer to acknowledge a
	// graceful close (see Conn.Close) before closing abruptly. 0 closes at once,
	// which may drop data still in flight, such as a final -ERR.
	CloseLinger time.Duration

	// Dial configures Transport.Dial (broker-to-broker or tools). The default
	// verifies the peer against the system roots.
	Dial DialConfig
}

// Defaults, chosen so that an idle NATS connection survives (keep-alive well
// inside the idle timeout) and a dead peer is noticed in well under the 4
// minutes NATS' own ping (2 min × 2 outstanding) would take.
//
// The server's idle timeout is an upper bound for clients that ask for none
// or a long one. Clients pick the detection time, because the effective
// timeout is the smaller of both sides': DialConfig's defaults notice a
// broker that died without a CONNECTION_CLOSE (SIGKILL, power loss, a cut
// path) within DefaultDialIdleTimeout, so a client fails over in seconds
// instead of resending into a dead path for 30 s. The price is one small
// PING and its ACK per second on a quiet connection.
const (
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
	DefaultKeepAlivePeriod  = 10 * time.Second
	// DefaultDialIdleTimeout and DefaultDialKeepAlivePeriod are DialConfig's.
	// Together they notice a dead path within 3 s: the idle timer restarts
	// at the first ack-eliciting packet sent after the last one received
	// (RFC 9000 §10.1), at the latest the keep-alive PING 1 s later, and
	// then runs 2 s. A live path must lose a PING and its retransmissions
	// for 2 s before it is dropped.
	DefaultDialIdleTimeout     = 2 * time.Second
	DefaultDialKeepAlivePeriod = time.Second
	DefaultPrefaceTimeout      = 5 * time.Second
	DefaultBacklog             = 256
	DefaultMaxReceiveWindow    = 4 << 20
	DefaultCloseLinger         = time.Second
	DefaultDialTimeout         = 5 * time.Second
)

// DefaultConfig returns a Config with every field set to a working default
// and a self-signed certificate.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout: DefaultHandshakeTimeout,
		IdleTimeout:      DefaultIdleTimeout,
		KeepAlivePeriod:  DefaultKeepAlivePeriod,
		PrefaceTimeout:   DefaultPrefaceTimeout,
		Backlog:          DefaultBacklog,
		MaxReceiveWindow: DefaultMaxReceiveWindow,
		CloseLinger:      DefaultCloseLinger,
		Dial:             DefaultDialConfig(),
	}
}

func (c *Config) validate() error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("CertFile and KeyFile must be set together"))
	}
	if c.TLS != nil && c.CertFile != "" {
		errs = append(errs, errors.New("TLS and CertFile/KeyFile are mutually exclusive"))
	}
	errs = append(errs, checkTimeouts(c.HandshakeTimeout, c.IdleTimeout, c.KeepAlivePeriod, c.CloseLinger)...)
	if c.PrefaceTimeout <= 0 {
		errs = append(errs, fmt.Errorf("PrefaceTimeout must be > 0, got %v", c.PrefaceTimeout))
	}
	if c.Backlog <= 0 {
		errs = append(errs, fmt.Errorf("Backlog must be > 0, got %d", c.Backlog))
	}
	if c.MaxReceiveWindow < 64<<10 {
		errs = append(errs, fmt.Errorf("MaxReceiveWindow must be >= 64 KiB, got %d", c.MaxReceiveWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("quic: invalid Config: %w", err)
	}
	return nil
}

// checkTimeouts validates the settings shared by Config and DialConfig.
func checkTimeouts(handshake, idle, keepAlive, linger time.Duration) []error {
	var errs []error
	if handshake <= 0 {
		errs = append(errs, fmt.Errorf("HandshakeTimeout must be > 0, got %v", handshake))
	}
	if idle <= 0 {
		errs = append(errs, fmt.Errorf("IdleTimeout must be > 0, got %v", idle))
	}
	if keepAlive <= 0 || keepAlive >= idle {
		errs = append(errs, fmt.Errorf("KeepAlivePeriod must be > 0 and < IdleTimeout (%v), got %v", idle, keepAlive))
	}
	if linger < 0 {
		errs = append(errs, fmt.Errorf("CloseLinger must be >= 0, got %v", linger))
	}
	return errs
}

// serverQUIC is the quic-go configuration for accepted connections.
func (c *Config) serverQUIC() *quicgo.Config {
	return &quicgo.Config{
		HandshakeIdleTimeout: c.HandshakeTimeout,
		MaxIdleTimeout:       c.IdleTimeout,
		KeepAlivePeriod:      c.KeepAlivePeriod,
		// Exactly one bidirectional stream per connection, ever: with the limit
		// at 1 and credit never released, a peer cannot open a second stream
		// (quic-go closes it with STREAM_LIMIT_ERROR if it tries), so extra
		// streams cost nothing and need no goroutine to reap them.
		MaxIncomingStreams:             1,
		RequireStreamCreditRelease:     true,
		MaxIncomingUniStreams:          -1,
		MaxStreamReceiveWindow:         c.MaxReceiveWindow,
		MaxConnectionReceiveWindow:     c.MaxReceiveWindow,
		InitialStreamReceiveWindow:     min(c.MaxReceiveWindow, 512<<10),
		InitialConnectionReceiveWindow: min(c.MaxReceiveWindow, 512<<10),
		// No 0-RTT (quic-go's default): quic-go v0.65 races when a client
		// opens a stream before its handshake completes (quic-go#4303), so
		// our Dialer sends none and nothing replayable is taken from
		// others (docs/quic.md §11). Sessions still resume.
		Tracer: qlog.DefaultConnectionTracer, // qlog files when QLOGDIR is set
	}
}
