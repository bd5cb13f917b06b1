package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/transport/quic"
)

// Transports a node can reach its brokers over.
const (
	TransportTCP  = "tcp"
	TransportQUIC = "quic"
)

// Defaults, used for zero fields of Config.
const (
	DefaultNamespace        = "default"
	DefaultAckTimeout       = time.Second
	DefaultMaxRedeliveries  = 5
	DefaultBackoffFactor    = 2.0
	DefaultMaxBackoff       = 8 * time.Second
	DefaultMaxUnconfirmed   = 1024 // enough to keep the pipe full; more only adds queueing delay
	DefaultDedupWindow      = 1 << 16
	DefaultPresenceInterval = time.Second
	DefaultMissedHeartbeats = 3
	DefaultMessageBuffer    = 1024
	DefaultErrorBuffer      = 1024
	DefaultDrainTimeout     = 5 * time.Second
	DefaultReconnectWait    = 100 * time.Millisecond
)

// Config configures a Node. Zero fields take the defaults above; only ID and
// Servers are required.
type Config struct {
	// ID names this node; other nodes send to it by this name. One subject
	// token: no '.', '*', '>' or whitespace.
	ID string
	// Namespace separates applications sharing a cluster: nodes only see
	// nodes of their own namespace. One subject token.
	Namespace string
	// Servers are broker URLs ("nats://host:port"); nats.go reconnects among
	// them (and, over TCP, among brokers the cluster advertises).
	Servers []string
	// Transport is TransportTCP (default) or TransportQUIC.
	Transport string
	// QUIC configures the QUIC dialer (certificate pinning with Fingerprint
	// or a set of Fingerprints, one per broker in Servers; RootCAs for
	// brokers sharing a CA; or InsecureSkipVerify). Zero timeouts take
	// quic.DefaultDialConfig's, which notice a dead broker within 3 s.
	QUIC quic.DialConfig
	// TLS, with TCP, makes the connection TLS (nats.Secure).
	TLS *tls.Config
	// NATSOptions are appended to the options the SDK passes to nats.go
	// (credentials, DontRandomize, ...). They must not replace the SDK's
	// connection handlers.
	NATSOptions []nats.Option
	// ReconnectWait is nats.go's pause between reconnect attempts.
	ReconnectWait time.Duration

	// AckTimeout is how long a Data waits for its ack before the first
	// redelivery.
	AckTimeout time.Duration
	// MaxRedeliveries is how often an unacked Data is resent before it is
	// reported failed; -1 means never resend.
	MaxRedeliveries int
	// BackoffFactor multiplies the wait after each redelivery, up to
	// MaxBackoff.
	BackoffFactor float64
	MaxBackoff    time.Duration
	// MaxUnconfirmed bounds the unconfirmed set. When it is full, Direct and
	// Broadcast block until a slot frees or their context ends (then they
	// return ErrTooManyUnconfirmed).
	MaxUnconfirmed int
	// RequirePeer makes every Direct and Broadcast behave as with the
	// RequirePeer option: fail at once, with an error wrapping ErrNoPeer,
	// when no live peer could ack it.
	RequirePeer bool
	// DedupWindow bounds the (sender, seq) pairs remembered per sender for
	// dropping duplicates.
	DedupWindow int
	// ManualAck leaves acking to the application (Message.Ack); by default a
	// message is acked once it has been handed over on Messages.
	ManualAck bool
	// MessageBuffer is the capacity of the Messages channel.
	MessageBuffer int
	// ErrorBuffer is the capacity of the Errors channel; reports that find
	// it full are dropped (and still counted in Stats.Failed).
	ErrorBuffer int

	// PresenceInterval is how often the node announces itself.
	PresenceInterval time.Duration
	// MissedHeartbeats is how many intervals a peer may stay silent before
	// it is considered gone.
	MissedHeartbeats int

	// DrainTimeout bounds how long Close waits for unconfirmed messages.
	DrainTimeout time.Duration
	// AbandonOnClose makes Close give up unconfirmed messages at once.
	AbandonOnClose bool

	// Metrics receives counters, gauges and latencies; nil means none.
	Metrics Metrics
	// Logger receives the node's logs; nil means no logging.
	Logger *zap.Logger
}

// withDefaults returns cfg with zero fields filled and checks it, naming the
// bad field.
func (cfg Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportTCP
	}
	if cfg.BackoffFactor == 0 {
		cfg.BackoffFactor = DefaultBackoffFactor
	}
	def(&cfg.AckTimeout, DefaultAckTimeout)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.PresenceInterval, DefaultPresenceInterval)
	def(&cfg.DrainTimeout, DefaultDrainTimeout)
	def(&cfg.ReconnectWait, DefaultReconnectWait)
	defInt(&cfg.MaxRedeliveries, DefaultMaxRedeliveries)
	defInt(&cfg.MaxUnconfirmed, DefaultMaxUnconfirmed)
	defInt(&cfg.DedupWindow, DefaultDedupWindow)
	defInt(&cfg.MissedHeartbeats, DefaultMissedHeartbeats)
	defInt(&cfg.MessageBuffer, DefaultMessageBuffer)
	defInt(&cfg.ErrorBuffer, DefaultErrorBuffer)
	qd := quic.DefaultDialConfig()
	def(&cfg.QUIC.Timeout, qd.Timeout)
	def(&cfg.QUIC.HandshakeTimeout, qd.HandshakeTimeout)
	def(&cfg.QUIC.IdleTimeout, qd.IdleTimeout)
	def(&cfg.QUIC.KeepAlivePeriod, qd.KeepAlivePeriod)
	def(&cfg.QUIC.CloseLinger, qd.CloseLinger)
	if cfg.QUIC.MaxReceiveWindow == 0 {
		cfg.QUIC.MaxReceiveWindow = qd.MaxReceiveWindow
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}

	var errs []error
	check := func(bad bool, field, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf("node: config %s: "+format, append([]any{field}, args...)...))
		}
	}
	check(!validToken(cfg.ID), "ID", "%q is not one subject token", cfg.ID)
	check(!validToken(cfg.Namespace), "Namespace", "%q is not one subject token", cfg.Namespace)
	check(len(cfg.Servers) == 0, "Servers", "at least one broker URL is required")
	check(cfg.Transport != TransportTCP && cfg.Transport != TransportQUIC, "Transport", "%q is neither %q nor %q", cfg.Transport, TransportTCP, TransportQUIC)
	check(cfg.Transport == TransportQUIC && cfg.TLS != nil, "TLS", "applies to TCP; QUIC takes its TLS settings from QUIC")
	check(cfg.AckTimeout < 0, "AckTimeout", "must be positive, got %v", cfg.AckTimeout)
	check(cfg.MaxRedeliveries < -1, "MaxRedeliveries", "must be >= -1, got %d", cfg.MaxRedeliveries)
	check(cfg.BackoffFactor < 1, "BackoffFactor", "must be >= 1, got %v", cfg.BackoffFactor)
	check(cfg.MaxBackoff < cfg.AckTimeout, "MaxBackoff", "%v is below AckTimeout %v", cfg.MaxBackoff, cfg.AckTimeout)
	check(cfg.MaxUnconfirmed < 0, "MaxUnconfirmed", "must be positive, got %d", cfg.MaxUnconfirmed)
	check(cfg.DedupWindow < 0, "DedupWindow", "must be positive, got %d", cfg.DedupWindow)
	check(cfg.MessageBuffer < 0, "MessageBuffer", "must be positive, got %d", cfg.MessageBuffer)
	check(cfg.ErrorBuffer < 0, "ErrorBuffer", "must be positive, got %d", cfg.ErrorBuffer)
	check(cfg.PresenceInterval < 0, "PresenceInterval", "must be positive, got %v", cfg.PresenceInterval)
	check(cfg.MissedHeartbeats < 0, "MissedHeartbeats", "must be positive, got %d", cfg.MissedHeartbeats)
	check(cfg.DrainTimeout < 0, "DrainTimeout", "must be positive, got %v", cfg.DrainTimeout)
	return cfg, errors.Join(errs...)
}

// backoff is the wait after the given redelivery (1-based).
func (cfg *Config) backoff(attempt int) time.Duration {
	d := float64(cfg.AckTimeout)
	for i := 0; i < attempt && d < float64(cfg.MaxBackoff); i++ {
		d *= cfg.BackoffFactor
	}
	return min(time.Duration(d), cfg.MaxBackoff)
}

// Metrics receives the node's instrumentation. Names are the Stats JSON
// names (data_sent, ...) for counters; gauges are "unconfirmed", "peers" and
// "inbox_depth" (messages waiting in the Messages channel); the latency is
// "ack_latency" (first send to full confirmation). Methods are called on the
// hot path from several goroutines: they must be fast and safe for
// concurrent use, and must not call back into the Node.
type Metrics interface {
	// Count adds delta to a counter.
	Count(name string, delta int64)
	// Gauge sets a gauge.
	Gauge(name string, value int64)
	// Observe records one duration sample.
	Observe(name string, d time.Duration)
}

// NopMetrics discards everything; it is the default Metrics.
type NopMetrics struct{}

// Count does nothing.
func (NopMetrics) Count(string, int64) {}

// Gauge does nothing.
func (NopMetrics) Gauge(string, int64) {}

// Observe does nothing.
func (NopMetrics) Observe(string, time.Duration) {}
