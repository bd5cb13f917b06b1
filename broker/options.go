package broker

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/transport"
)

// Defaults, as nats-server's.
const (
	DefaultPort           = 4222
	DefaultHost           = "0.0.0.0"
	DefaultMaxPayload     = 1 << 20
	DefaultMaxControlLine = 4096
	DefaultMaxPending     = 64 << 20
	DefaultMaxConnections = 64 * 1024
	DefaultPingInterval   = 2 * time.Minute
	DefaultPingMax        = 2
	DefaultWriteDeadline  = 10 * time.Second
	// DefaultMaxClosedClients is how many closed connections are kept for
	// monitoring (nats-server's DEFAULT_MAX_CLOSED_CLIENTS).
	DefaultMaxClosedClients = 10000
)

// Listener is one place the broker accepts clients: a transport and the
// address to bind with it.
type Listener struct {
	Transport transport.Transport
	// Addr is "host:port"; port 0 picks a free one (see Server.Addrs).
	Addr string
	// Advertise is the "host:port" clients are told to reach this listener
	// at (connect_urls, the gossiped client URLs); empty means the bound
	// address, with the gossip host for an unspecified listen host.
	Advertise string
	// Auth, when set, overrides authentication for its clients.
	Auth *ListenerAuth
}

// Options configure a Server. Start from DefaultOptions; flags and the
// config file fill the same struct; Validate checks it in one place.
type Options struct {
	// Name is the server name in INFO (defaults to the server id).
	Name string
	// Host and Port are the client listener for the default TCP transport,
	// used when Listeners is empty. Port -1 means a random free port.
	Host string
	Port int
	// Listeners, when set, replace Host/Port: one accept loop per entry.
	Listeners []Listener
	// ClientAdvertise is the "host:port" (or "host", with the bound port)
	// clients are told to reach the TCP listener at, for a listener whose
	// own Advertise is empty: nats-server's client_advertise, for brokers
	// behind NAT or a load balancer.
	ClientAdvertise string

	MaxPayload     int
	MaxControlLine int
	MaxPending     int
	MaxConnections int
	// MaxSubscriptions per connection; 0 = unlimited.
	MaxSubscriptions int
	PingInterval     time.Duration
	PingMax          int
	WriteDeadline    time.Duration

	// Cluster, when set, accepts and dials routes to other brokers.
	Cluster *ClusterOptions
	// LeafNode, when set, accepts leaf node connections and dials remote
	// hubs (leaf_options.go).
	LeafNode *LeafNodeOptions

	// Mappings are the global account's subject mappings (nats-server's
	// top-level `mappings`); an account's are in its Account.
	Mappings []Mapping

	// Auth, when it holds a token or users, requires clients to
	// authenticate in CONNECT.
	Auth *AuthOptions
	// TLS, when set, puts TLS on the TCP client listener(s).
	TLS *TLSOptions
	// LameDuck tunes lame-duck mode.
	LameDuck LameDuckOptions
	// MaxClosedClients bounds the history of closed connections that
	// /connz?state=closed reports; 0 means DefaultMaxClosedClients, a
	// negative value keeps none.
	MaxClosedClients int
	// Tags (nats-server's server_tags) and Metadata (server_metadata) are
	// reported in the "server" block of $SYS events and system responses.
	Tags     []string
	Metadata map[string]string

	// ConfigDigest identifies the configuration in force, "sha256:<hex>"
	// of the config file (empty without one), reported in /varz.
	ConfigDigest string

	// Logger receives the broker's logs; nil means no logging.
	Logger *zap.Logger
	// Trace logs every protocol op a client sends and is sent, as
	// nats-server's -V does ("<<- [PUB foo 5]", "->> [MSG foo 1 5]"), at
	// TraceLevel: the Logger must enable that level (below debug) to
	// show them. Connections read it when they are accepted.
	Trace bool
	// TraceVerbose also traces the broker's internal system traffic
	// (nats-server's trace_verbose, -VV).
	TraceVerbose bool
	// TraceHeaders traces only the headers of messages, not payloads
	// (nats-server's trace_headers).
	TraceHeaders bool
	// MaxTracedMsgLen cuts a traced payload to this many bytes, marked
	// "..." (0: whole payloads), as nats-server's max_traced_msg_len.
	MaxTracedMsgLen int
	// NoSubjectSampling turns off the top-subjects sampler (subjects.go),
	// which counts one in SubjectSampleEvery published messages.
	NoSubjectSampling bool
}

// DefaultOptions returns nats-server's defaults.
func DefaultOptions() Options {
	return Options{
		Host:           DefaultHost,
		Port:           DefaultPort,
		MaxPayload:     DefaultMaxPayload,
		MaxControlLine: DefaultMaxControlLine,
		MaxPending:     DefaultMaxPending,
		MaxConnections: DefaultMaxConnections,
		PingInterval:   DefaultPingInterval,
		PingMax:        DefaultPingMax,
		WriteDeadline:  DefaultWriteDeadline,
	}
}

// Validate reports the first bad option, naming it.
func (o *Options) Validate() error {
	switch {
	case o.Port < -1 || o.Port > 65535:
		return fmt.Errorf("port: %d is not a valid port", o.Port)
	case o.MaxPayload <= 0:
		return fmt.Errorf("max_payload: must be positive, got %d", o.MaxPayload)
	case o.MaxPayload > 64<<20:
		return fmt.Errorf("max_payload: %d exceeds the 64 MB limit", o.MaxPayload)
	case o.MaxControlLine < 32:
		return fmt.Errorf("max_control_line: must be at least 32, got %d", o.MaxControlLine)
	case o.MaxPending <= 0:
		return fmt.Errorf("max_pending: must be positive, got %d", o.MaxPending)
	case o.MaxPending < o.MaxPayload:
		return fmt.Errorf("max_pending: %d is smaller than max_payload %d", o.MaxPending, o.MaxPayload)
	case o.MaxConnections <= 0:
		return fmt.Errorf("max_connections: must be positive, got %d", o.MaxConnections)
	case o.MaxSubscriptions < 0:
		return fmt.Errorf("max_subscriptions: must not be negative, got %d", o.MaxSubscriptions)
	case o.PingInterval <= 0:
		return fmt.Errorf("ping_interval: must be positive, got %v", o.PingInterval)
	case o.PingMax <= 0:
		return fmt.Errorf("ping_max: must be positive, got %d", o.PingMax)
	case o.WriteDeadline <= 0:
		return fmt.Errorf("write_deadline: must be positive, got %v", o.WriteDeadline)
	}
	if o.Cluster != nil {
		if err := o.Cluster.validate(); err != nil {
			return err
		}
	}
	if o.LeafNode != nil {
		if err := o.LeafNode.validate(); err != nil {
			return err
		}
	}
	if err := o.Auth.validate(); err != nil {
		return err
	}
	if err := o.validateMappings(); err != nil {
		return err
	}
	if o.TLS != nil && (o.TLS.Config == nil || len(o.TLS.Config.Certificates) == 0 && o.TLS.Config.GetCertificate == nil) {
		return fmt.Errorf("tls: no certificate")
	}
	if o.LameDuck.Duration < 0 || o.LameDuck.GracePeriod < 0 {
		return fmt.Errorf("lame_duck_duration / lame_duck_grace_period: must not be negative")
	}
	for i, l := range o.Listeners {
		if l.Transport == nil {
			return fmt.Errorf("listeners[%d]: no transport", i)
		}
		if err := l.Auth.Validate(o.Auth); err != nil {
			return fmt.Errorf("%s listener: %w", l.Transport.Name(), err)
		}
	}
	return nil
}

// ClusterOptions turn on routes to other brokers of one cluster. Brokers
// find each other through gossip (package cluster, which dials the routes)
// or explicit ConnectRoute calls.
type ClusterOptions struct {
	// Name must match on every broker of the cluster.
	Name string
	// Listen is where routes are accepted; its transport also dials peers.
	Listen Listener
	// Advertise is the route address peers dial ("host:port"); default the
	// bound listen address.
	Advertise string
	// Credential is a shared secret every route presents in CONNECT; empty
	// means none is required.
	Credential string
	// Compression offers S2 compression on routes; used when both ends offer it.
	Compression bool
	// NoAdvertise keeps this broker's client URLs out of what it tells
	// the cluster, so other brokers' clients are not sent here
	// (nats-server's cluster.no_advertise).
	NoAdvertise bool
}

func (c *ClusterOptions) validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("cluster.name: required when clustering")
	case c.Listen.Transport == nil:
		return fmt.Errorf("cluster.listen: no transport")
	case c.Listen.Addr == "":
		return fmt.Errorf("cluster.listen: no address")
	}
	for _, r := range c.Name {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return fmt.Errorf("cluster.name: %q contains whitespace", c.Name)
		}
	}
	return nil
}
