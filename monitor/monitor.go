// Package monitor serves a broker's state over HTTP with nats-server's
// monitoring endpoints and JSON field names (/varz, /connz, /subsz, /routez,
// /healthz, /accountz, /accstatz), plus Murmur's own /gossipz, Prometheus
// /metrics and a live page at /. It also logs a one-line stats summary
// periodically and answers the system requests (`nats server info`)
// through SystemEndpoints.
//
// The monitor reads the broker through the Broker interface; it never takes
// a lock a publisher holds while fanning out (counters are atomics or
// per-connection values summed on read).
package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/pubsub"
)

// Broker is what the monitor reads. *broker.Server satisfies it. Every
// method must be safe to call from any goroutine at any time (before Start,
// after Close) and must return promptly: it may take the broker's own
// bookkeeping locks, never block on I/O.
type Broker interface {
	// ID and Name identify the server (as in INFO).
	ID() string
	Name() string
	// Options are the limits reported in /varz.
	Options() broker.Options
	// StartTime is when the broker started listening (zero before).
	StartTime() time.Time
	// Addrs are the bound listener addresses by transport name.
	Addrs() map[string]net.Addr
	// Stats are the running totals; counters only grow.
	Stats() broker.Stats
	// Connections are snapshots of the open connections (subject lists
	// when withSubs); ClosedConnections the recently closed, oldest first.
	Connections(withSubs bool) []broker.ConnInfo
	ClosedConnections() []broker.ClosedConn
	// Subscriptions lists every client subscription; MatchSubscriptions
	// those account acc's index ("": $G) matches for a literal subject
	// (error when invalid, or no such account).
	Subscriptions() []broker.SubInfo
	MatchSubscriptions(acc, subject string) ([]broker.SubInfo, error)
	// IndexStats are the subject index's counters.
	IndexStats() pubsub.Stats
	// TransportStats sums the open connections per transport.
	TransportStats() map[string]broker.TransportStats
	// Health is nil while the broker serves clients, else why not.
	Health() error
	// Accounts describes every account, ordered by name.
	Accounts() []broker.AccountInfo
}

var _ Broker = (*broker.Server)(nil)

// Config configures a monitor. Only Broker is required.
type Config struct {
	// Broker is the server to report on.
	Broker Broker
	// Host is the HTTP listen address (--http_addr); default "127.0.0.1",
	// so exposing the monitor beyond the host is an explicit choice.
	Host string
	// Port is the HTTP port (-m/--http_port): 0 serves no HTTP (stats log
	// and system endpoints still work), -1 picks a free port.
	Port int
	// StatsInterval is how often the one-line stats summary is logged at
	// info level (--stats_interval); 0 disables it.
	StatsInterval time.Duration
	// Logger receives the stats line and errors; nil means none.
	Logger *zap.Logger
	// Routes and Gossip supply the cluster views. When nil, the monitor
	// uses Broker if it implements the interface, else reports empty lists.
	Routes RouteProvider
	Gossip GossipProvider
	// Auth, when set, requires credentials on every path but /healthz
	// (auth.go).
	Auth *Auth
	// RouteURLs are the configured routes (--routes, cluster.routes), the
	// varz cluster block's urls.
	RouteURLs []string
	// JetStream, when set, is read for /jsz, the /varz jetstream block,
	// the murmur_jetstream_* metrics and JSZ requests (jsz.go).
	JetStream JetStream
}

// DefaultHost is the monitor's default listen address: loopback only.
const DefaultHost = "127.0.0.1"

// Server is a running monitor. Create it with New, then Start; Close stops
// the HTTP server and the stats logger and waits for their goroutines.
type Server struct {
	cfg    Config
	b      Broker
	log    *zap.Logger
	routes RouteProvider
	gossip GossipProvider
	cpu    cpuSampler
	reqs   reqCounters

	mu      sync.Mutex
	http    *fasthttp.Server
	ln      net.Listener
	started bool
	closing atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New checks cfg and returns a monitor that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Broker == nil {
		return nil, errors.New("monitor: broker is required")
	}
	if cfg.Port < -1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("http_port: %d is not a valid port", cfg.Port)
	}
	if cfg.StatsInterval < 0 {
		return nil, fmt.Errorf("stats_interval: must not be negative, got %v", cfg.StatsInterval)
	}
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if err := cfg.Auth.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m := &Server{cfg: cfg, b: cfg.Broker, log: cfg.Logger.With(zap.String("component", "monitor")), stop: make(chan struct{})}
	m.routes, m.gossip = cfg.Routes, cfg.Gossip
	if m.routes == nil {
		m.routes, _ = cfg.Broker.(RouteProvider)
	}
	if m.gossip == nil {
		m.gossip, _ = cfg.Broker.(GossipProvider)
	}
	m.reqs.init()
	return m, nil
}

// Start binds the HTTP listener (unless Port is 0) and starts serving and
// the stats logger. On error nothing is left running.
func (m *Server) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return errors.New("monitor: already started")
	}
	if m.cfg.Port != 0 {
		port := max(m.cfg.Port, 0)
		ln, err := net.Listen("tcp", net.JoinHostPort(m.cfg.Host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("monitor: listen on %s:%d: %w", m.cfg.Host, port, err)
		}
		m.ln = ln
		m.http = &fasthttp.Server{
			Handler: m.handle,
			Name:    "murmur",
			// No Date header: fasthttp would start a process-wide clock
			// goroutine that nobody could stop.
			NoDefaultDate:      true,
			ReadTimeout:        10 * time.Second,
			WriteTimeout:       10 * time.Second,
			IdleTimeout:        30 * time.Second,
			MaxRequestBodySize: 64 << 10,
			// The worker pool's cleaner sleeps this long between checks
			// for Stop, so it bounds how long it outlives Close.
			MaxIdleWorkerDuration: 200 * time.Millisecond,
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := m.http.Serve(ln); err != nil && !m.closing.Load() {
				m.log.Error("monitor stopped serving", zap.Error(err))
			}
		}()
		m.log.Info("monitoring on http", zap.Stringer("addr", ln.Addr()))
	}
	if m.cfg.StatsInterval > 0 {
		m.wg.Add(1)
		go m.statsLoop(m.cfg.StatsInterval)
	}
	m.started = true
	return nil
}

// Addr is the bound HTTP address, nil when not listening.
func (m *Server) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr()
}

// HTTPPort is the bound HTTP port, 0 when not listening.
func (m *Server) HTTPPort() int {
	if a, ok := m.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Close stops serving (in-flight requests finish; /healthz reports
// shutting down meanwhile) and waits for every goroutine the monitor
// started. It is safe to call more than once.
func (m *Server) Close() error {
	if m.closing.Swap(true) {
		m.wg.Wait()
		return nil
	}
	close(m.stop)
	m.mu.Lock()
	srv, ln := m.http, m.ln
	m.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.ShutdownWithContext(ctx)
		cancel()
		// Shutdown closes only the listeners Serve has registered: right
		// after Start, Serve may not have begun, and would then serve
		// forever. Closing the listener ends it either way.
		_ = ln.Close()
	}
	m.wg.Wait()
	return err
}

// Healthz is the /healthz document: status "ok", or "unavailable" with the
// reason while the broker starts or shuts down.
type Healthz struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	Error      string `json:"error,omitempty"`
	// Errors carries a bad request's reason instead of Error when the
	// request asked for details (as nats-server).
	Errors []HealthzError `json:"errors,omitempty"`
	// Warnings (Murmur only) name cluster members that are down and not
	// replaced; they do not make the broker unhealthy (health.go).
	Warnings []string `json:"warnings,omitempty"`
}

// HealthzError is one entry of Healthz.Errors.
type HealthzError struct {
	// Type is nats-server's error class; Murmur reports only
	// HealthzBadRequest.
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

// HealthzBadRequest is the HealthzError type of a malformed request.
const HealthzBadRequest = "BAD_REQUEST"

// healthzQuery checks /healthz's parameters as nats-server does. A
// malformed flag is an error (a plain-text 400); a stream without an
// account, or a consumer without a stream, is answered by the returned
// document with status 400. Murmur has no JetStream, so the js-* flags are
// otherwise ignored and a consistent account/stream/consumer is healthy
// when the broker is, as on a nats-server without JetStream.
func healthzQuery(args *fasthttp.Args) (*Healthz, error) {
	if err := decodeBools(args, "js-enabled", "js-enabled-only", "js-server-only", "js-meta-only"); err != nil {
		return nil, err
	}
	details, err := decodeBool(args, "details")
	if err != nil {
		return nil, err
	}
	var reason string
	switch {
	case len(args.Peek("account")) == 0 && len(args.Peek("stream")) > 0:
		reason = `"account" must not be empty when checking stream health`
	case len(args.Peek("stream")) == 0 && len(args.Peek("consumer")) > 0:
		reason = `"stream" must not be empty when checking consumer health`
	default:
		return nil, nil
	}
	if details {
		return &Healthz{Status: "error", Errors: []HealthzError{{Type: HealthzBadRequest, Error: reason}}}, nil
	}
	return &Healthz{Status: "error", Error: reason}, nil
}

// uptime formats d as nats-server does: "1m2s", "3h4m5s", "1d2h3m4s".
func uptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	years := days / 365
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}
