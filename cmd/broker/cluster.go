package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/transport/tcp"
)

// clusterFlags are the clustering flags: routes (--cluster...) and gossip
// (--gossip_...). Clustering is on when --cluster gives a route address.
type clusterFlags struct {
	listen      string
	name        string
	advertise   string
	credential  string
	compression bool
	routes      []string // configured routes, "host:port" (cluster.routes, --routes)
	routesFlag  string
	noAdvertise bool
	tls         *tls.Config // cluster.tls: routes accept and dial with it
	// connectRetries bounds implicit route dials (cluster.Static.Retries);
	// poolSize is nats-server's, accepted (see clusterKeys).
	connectRetries, poolSize int
	// gossipWanted: a gossip block or a --gossip_* flag was given. With
	// configured routes and neither, the cluster is one of routes alone,
	// as nats-server's: no gossip (routes tell of further brokers).
	gossipWanted bool

	gossipAddr      string
	gossipPort      int
	gossipAdvertise string
	seeds           string
	key             string
	profile         string
	probeInterval   time.Duration
	keygen          bool // --gossip_keygen: print a new key and exit
}

// lanProbeInterval is the broker's probe interval for the LAN profile:
// half memberlist's 1 s, so a crashed broker is declared dead in about
// 3 s instead of 6 (measured in cluster/process_test.go).
const lanProbeInterval = 500 * time.Millisecond

// lanRejoinInterval is how often a LAN broker re-joins the seeds and the
// members it holds dead (gossip's default is 30 s). After a partition or a
// freeze longer than failure detection, memberlist on both sides holds the
// other dead and sends it nothing, so only a re-join brings them together:
// with 30 s the chaos harness (docs/chaos.md) saw a healed partition stay
// split for 19 s; with 2 s it heals within about 2.5 s. A round to a
// broker that is gone is one failed TCP dial.
const lanRejoinInterval = 2 * time.Second

// lanGossipInterval halves memberlist's LAN gossip period too, so a joining
// broker is known to every member (and routed to) sooner.
const lanGossipInterval = 100 * time.Millisecond

func (cf *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.routesFlag, "routes", "", "comma-separated route `urls` to dial (nats-route://host:port), beside gossip")
	for _, n := range []string{"cluster", "cluster_listen"} {
		fs.StringVar(&cf.listen, n, "", "route listen `host:port` or nats://host:port (e.g. 0.0.0.0:6222); turns clustering on")
	}
	fs.BoolVar(&cf.noAdvertise, "no_advertise", false, "give clients no cluster connect_urls and gossip no client URLs of this broker")
	fs.IntVar(&cf.connectRetries, "connect_retries", 0, "further dials of an implicit route (a broker learned from a route) after a failed one, as nats-server's")
	fs.StringVar(&cf.name, "cluster_name", "murmur", "cluster `name`; brokers of one cluster must agree")
	fs.StringVar(&cf.advertise, "cluster_advertise", "", "route `host:port` other brokers dial (default: the listen address)")
	fs.StringVar(&cf.credential, "route_credential", "", "shared `secret` every route must present")
	fs.BoolVar(&cf.compression, "route_compression", true, "offer S2 compression on routes")
	fs.StringVar(&cf.gossipAddr, "gossip_addr", "", "gossip bind `ip` (default: the --cluster host, or 0.0.0.0)")
	fs.IntVar(&cf.gossipPort, "gossip_port", gossip.DefaultPort, "gossip `port` (UDP and TCP; 0 picks one)")
	fs.StringVar(&cf.gossipAdvertise, "gossip_advertise", "", "gossip `ip` other brokers reach this one at")
	fs.StringVar(&cf.seeds, "gossip_seeds", "", "comma-separated gossip `host:port` list of brokers to join")
	fs.StringVar(&cf.key, "gossip_key", "", "gossip encryption `key`, base64 of 16, 24 or 32 bytes")
	fs.BoolVar(&cf.keygen, "gossip_keygen", false, "print a new random gossip key (for --gossip_key) and exit")
	fs.StringVar(&cf.profile, "gossip_profile", gossip.ProfileLAN, "memberlist timing `profile`: lan, wan or local")
	fs.DurationVar(&cf.probeInterval, "gossip_probe_interval", 0, "failure-detector probe `interval` (default: 500ms for lan, the profile's for wan and local)")
}

// apply validates the flags and fills the broker's cluster options and the
// gossip config; without --cluster it returns nil.
func (cf *clusterFlags) apply(o *broker.Options) (*gossip.Config, error) {
	if cf.routesFlag != "" {
		cf.routes = nil
		for _, u := range strings.Split(cf.routesFlag, ",") {
			a, err := routeURL(strings.TrimSpace(u))
			if err != nil {
				return nil, fmt.Errorf("--routes: %v", err)
			}
			cf.routes = append(cf.routes, a)
		}
	}
	if cf.listen == "" && len(cf.routes) > 0 {
		return nil, errors.New("routes need a route listener: set cluster.listen (or --cluster)")
	}
	if cf.listen == "" {
		for name, v := range map[string]string{"gossip_seeds": cf.seeds, "gossip_key": cf.key, "route_credential": cf.credential} {
			if v != "" {
				return nil, fmt.Errorf("--%s needs --cluster (the route listen address)", name)
			}
		}
		return nil, nil
	}
	if strings.Contains(cf.listen, "://") { // nats-server's --cluster nats://host:port
		u, err := url.Parse(cf.listen)
		switch {
		case err != nil || u.Port() == "":
			return nil, fmt.Errorf("--cluster %q: want host:port or nats://host:port", cf.listen)
		case u.User != nil:
			return nil, fmt.Errorf("--cluster %q: credentials in the URL are not supported (use --route_credential)", cf.listen)
		}
		cf.listen = u.Host
	}
	// A negative connect_retries means none, as nats-server reads it.
	cf.connectRetries = max(cf.connectRetries, 0)
	host, _, err := net.SplitHostPort(cf.listen)
	if err != nil {
		return nil, fmt.Errorf("--cluster %q: %v", cf.listen, err)
	}
	o.Cluster = &broker.ClusterOptions{
		Name:        cf.name,
		Listen:      broker.Listener{Transport: &tcp.Transport{TLS: cf.tls}, Addr: cf.listen},
		Advertise:   cf.advertise,
		Credential:  cf.credential,
		Compression: cf.compression,
		NoAdvertise: cf.noAdvertise,
	}
	if len(cf.routes) > 0 && !cf.gossipWanted {
		return nil, nil
	}
	g := gossip.DefaultConfig()
	g.Cluster = cf.name
	g.BindAddr = cf.gossipAddr
	if g.BindAddr == "" {
		g.BindAddr = host
		if g.BindAddr == "" {
			g.BindAddr = "0.0.0.0"
		}
	}
	g.BindPort = cf.gossipPort
	g.AdvertiseAddr = cf.gossipAdvertise
	g.SecretKey = cf.key
	g.Profile = cf.profile
	if cf.probeInterval < 0 {
		return nil, fmt.Errorf("--gossip_probe_interval %v is negative", cf.probeInterval)
	}
	if cf.probeInterval == 0 && cf.profile == gossip.ProfileLAN {
		cf.probeInterval = lanProbeInterval
		g.Timing.GossipInterval = lanGossipInterval
		g.RejoinInterval = lanRejoinInterval
	}
	if cf.probeInterval > 0 {
		g.Timing.ProbeInterval = cf.probeInterval
		g.Timing.ProbeTimeout = cf.probeInterval / 2
	}
	if cf.seeds != "" {
		for _, s := range strings.Split(cf.seeds, ",") {
			if s = strings.TrimSpace(s); s != "" {
				g.Seeds = append(g.Seeds, s)
			}
		}
	}
	// Validate with a stand-in id: the real one is the broker's, known later.
	check := g
	check.Name = "validate"
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("gossip flags: %w", err)
	}
	return &g, nil
}

// routeURL turns a route URL as nats-server takes it (nats-route://,
// nats://, or a bare host:port) into "host:port", for --routes.
// Credentials in the URL are refused here: routes authenticate with
// cluster.credential (the file's cluster.routes accept URL credentials
// equal to cluster.authorization, see clusterKeys).
func routeURL(s string) (string, error) {
	a, user, err := routeURLUser(s)
	if err == nil && user != nil {
		return "", fmt.Errorf("%q: credentials in a route URL are not supported here (routes present cluster.credential, or cluster.authorization's user and password)", s)
	}
	return a, err
}
