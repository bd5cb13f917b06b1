package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/pubsub"
	"github.com/murmurmq/murmur/transport"
)

// Leaf node defaults, as nats-server's.
const (
	// DefaultLeafNodePort is where a remote URL without a port points
	// (nats-server's DEFAULT_LEAFNODE_PORT).
	DefaultLeafNodePort = 7422
	// DefaultLeafReconnect caps the redial backoff of a remote
	// (nats-server's DEFAULT_LEAF_NODE_RECONNECT).
	DefaultLeafReconnect = time.Second
	// leafLoopReconnectDelay is the wait before redialing a hub that
	// reported a loop (nats-server's leafNodeReconnectDelayAfterLoopDetected).
	leafLoopReconnectDelay = 30 * time.Second
)

// LeafNodeOptions turn on leaf node connections (docs/leafnodes.md): a
// listener where leaf brokers connect (this broker is their hub) and
// remotes this broker dials (it is their leaf). Both may be set.
type LeafNodeOptions struct {
	// Addr is the leaf node listener, "host:port" (port 0: a free one);
	// empty: no listener.
	Addr string
	// Advertise is the "host:port" leaves are told to reach this broker
	// at (INFO leafnode_urls); default the bound address.
	Advertise string
	// NoAdvertise leaves the cluster's other leafnode URLs out of INFO.
	NoAdvertise bool
	// IsolateInterest keeps the interest of each leaf connection from
	// every other (nats-server's isolate_leafnode_interest): no
	// east-west traffic between leaves through this broker.
	IsolateInterest bool
	// User and Password, when set, are the one credential accepted
	// leaves present; they bind to Account ($G when empty). Users is the
	// list form. With neither, accepted leaves authenticate as clients do
	// (the server's users and accounts), as nats-server.
	User, Password, Account string
	Users                   []LeafUser
	// AuthTimeout bounds the leaf handshake (0: DefaultAuthTimeout).
	AuthTimeout time.Duration
	// TLS, when set, makes the leaf node listener require TLS: INFO says
	// tls_required and the handshake follows it (as nats-server's, not
	// TLS-first).
	TLS *TLSOptions
	// QUIC, when set, also takes leaf connections on another transport:
	// QUIC between Murmur brokers (transport/quic), at QUIC.Addr. Its TLS
	// is the transport's, so INFO never asks for a second handshake.
	QUIC *Listener
	// QUICAdvertise is the "host:port" leaves are told to reach the QUIC
	// listener at ("": its bound address, and none when that is
	// unspecified, like 0.0.0.0).
	QUICAdvertise string
	// Remotes are the hubs this broker dials.
	Remotes []RemoteLeaf
	// Reconnect caps the backoff between dials of a remote (0:
	// DefaultLeafReconnect).
	Reconnect time.Duration
	// Compression of accepted leaf connections (zero: s2_auto, as
	// nats-server; leaf_compress.go).
	Compression LeafCompression
}

// LeafUser is one credential accepted leaves may present.
type LeafUser struct {
	Name, Password string
	// Account the leaf binds to ($G when empty).
	Account string
}

// RemoteLeaf is one hub this broker connects to as a leaf.
type RemoteLeaf struct {
	// URLs of the hub's leaf node listeners, "nats://[user:pass@]host[:port]"
	// (also "tls://"... is refused until TLS is built); tried in turn.
	URLs []string
	// Account is the local account the connection binds ($G when empty):
	// its interest crosses, and what arrives is published in it.
	Account string
	// Credentials is a .creds file (user JWT and nkey seed) for a hub in
	// operator mode.
	Credentials string
	// DenyImports are subjects not taken from the hub (no interest sent,
	// messages dropped); DenyExports subjects not sent to it.
	DenyImports, DenyExports []string
	// Isolate keeps the interest of this broker's other leaf connections
	// from this one (a remote's isolate_leafnode_interest);
	// RequestIsolation asks the hub to keep its other leaves' interest
	// from it (request_isolation: CONNECT isolate).
	Isolate, RequestIsolation bool
	// TLS is the client TLS configuration (CAs, a client certificate).
	// TLS is used when it is set, when a URL is tls://, or when the hub's
	// INFO requires it (then with the system roots if TLS is nil).
	TLS *tls.Config
	// QUIC dials the quic:// URLs (a transport/quic Transport, whose
	// DialConfig says how the hub's certificate is trusted).
	QUIC transport.Transport
	// Compression of this remote's connection (zero: s2_auto).
	Compression LeafCompression
	// WSCompression offers permessage-deflate on ws:// and wss:// URLs
	// (ws_compression); when the hub's WebSocket listener takes it, S2
	// is not used on top (as nats-server).
	WSCompression bool
}

func (o *LeafNodeOptions) validate() error {
	if o.Addr != "" {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			return fmt.Errorf("leafnodes.listen: %w", err)
		}
	}
	if o.TLS != nil && (o.TLS.Config == nil || len(o.TLS.Config.Certificates) == 0 && o.TLS.Config.GetCertificate == nil) {
		return fmt.Errorf("leafnodes.tls: no certificate")
	}
	if o.QUIC != nil && (o.QUIC.Transport == nil || o.QUIC.Addr == "") {
		return fmt.Errorf("leafnodes.quic: needs a transport and an address")
	}
	if o.User != "" && len(o.Users) > 0 {
		return fmt.Errorf("leafnodes.authorization: user and users cannot both be set")
	}
	if err := o.Compression.validate(); err != nil {
		return fmt.Errorf("leafnodes.compression: %w", err)
	}
	if o.AuthTimeout < 0 || o.Reconnect < 0 {
		return fmt.Errorf("leafnodes: timeout and reconnect must not be negative")
	}
	for i, r := range o.Remotes {
		if len(r.URLs) == 0 {
			return fmt.Errorf("leafnodes.remotes[%d]: no url", i)
		}
		if err := r.Compression.validate(); err != nil {
			return fmt.Errorf("leafnodes.remotes[%d].compression: %w", i, err)
		}
		for _, raw := range r.URLs {
			u, err := remoteLeafAddr(raw)
			if err != nil {
				return fmt.Errorf("leafnodes.remotes[%d]: %w", i, err)
			}
			if u.Scheme == "quic" && r.QUIC == nil {
				return fmt.Errorf("leafnodes.remotes[%d]: %s needs a QUIC transport", i, u.Redacted())
			}
		}
		for _, list := range [][]string{r.DenyImports, r.DenyExports} {
			for _, s := range list {
				if !pubsub.ValidSubject(s) {
					return fmt.Errorf("leafnodes.remotes[%d]: deny subject %q is not valid", i, s)
				}
			}
		}
	}
	return nil
}

// leafReloadable refuses a reload that changes the leafnodes block: the
// listener, the remotes and their bindings are set up at Start.
func leafReloadable(cur, n *LeafNodeOptions) error {
	if !reflect.DeepEqual(cur, n) {
		return fmt.Errorf("leafnodes: changes need a restart")
	}
	return nil
}

// CheckRemoteLeafURL reports what is wrong with a remote's URL, if
// anything (for the config file's errors).
func CheckRemoteLeafURL(raw string) error {
	_, err := remoteLeafAddr(raw)
	return err
}

// remoteLeafAddr parses a remote URL into the address to dial and the
// credentials it carries.
func remoteLeafAddr(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "nats", "nats-leaf", "tls", "ws", "wss", "quic":
	case "":
		return nil, fmt.Errorf("url %q: no scheme (nats://host:port)", raw)
	default:
		return nil, fmt.Errorf("url %q: scheme %q is not supported (nats://, tls://, ws://, wss:// or quic://)", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q: no host", raw)
	}
	if u.Port() == "" {
		port := DefaultLeafNodePort
		switch u.Scheme {
		case "ws":
			port = 80
		case "wss":
			port = 443
		case "quic":
			port = 4224 // Murmur's suggested QUIC port (README)
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	return u, nil
}
