package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	conf "github.com/murmurmq/murmur/config"
)

// clusterFile is what the cluster block sets beyond clusterFlags, kept
// while the block is read and checked once it is whole.
type clusterFile struct {
	host     string
	port     *conf.Value // cluster.port, or listen ("host:port" or a port)
	auth     *conf.Value // cluster.authorization
	user     string      // its user and password
	password string
	cred     *conf.Value   // Murmur's cluster.credential
	urlUsers []*conf.Value // routes entries with credentials
}

// clusterKeys is the cluster block (nats-server parseCluster), name being
// the setter shared with gossip.cluster_name.
func clusterKeys(c *config, name setter) setter {
	cl := &c.cluster
	return func(v *conf.Value) error {
		cf := &clusterFile{}
		ks := keys{
			"name": name,
			"listen": func(v *conf.Value) error {
				var host string
				var port int
				if err := hostPort(&host, &port)(v); err != nil {
					return err
				}
				if v.Kind != conf.Int {
					cf.host = host
				}
				cf.port = v
				return nil
			},
			"host":        str(&cf.host),
			"port":        func(v *conf.Value) error { _, err := v.AsIntRange(-1, 65535); cf.port = v; return err },
			"advertise":   addr(&cl.advertise),
			"credential":  keep(&cf.cred),
			"compression": compression(&cl.compression),
			// no_advertise keeps this broker's client URLs from the cluster.
			"no_advertise": boolean(&cl.noAdvertise),
			// connect_retries bounds the dials of an implicit route
			// (configured ones are redialed until they are up); pool_size
			// is accepted: Murmur keeps one route per pair of brokers
			// (docs/config.md).
			"connect_retries": integer(&cl.connectRetries, -1, maxInt),
			"pool_size":       integer(&cl.poolSize, -1, maxInt),
			"authorization": func(v *conf.Value) error {
				cf.auth = v
				return block(refuse(keys{
					"user":     str(&cf.user),
					"username": str(&cf.user),
					"password": str(&cf.password),
					"pass":     str(&cf.password),
					// The route handshake is bounded at 5 s whatever the
					// timeout; it is accepted for nats-server's files.
					"timeout": func(v *conf.Value) error { _, err := v.AsDuration(); return err },
				}, refusedClusterAuth))(v)
			},
			"tls": func(v *conf.Value) error {
				b, err := decodeTLSBlock(v)
				if err != nil {
					return err
				}
				cfg, err := b.config(v)
				if err != nil {
					return err
				}
				// As nats-server: routes verify each other both ways, and
				// trust the same CAs dialing as accepting.
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
				cfg.RootCAs = cfg.ClientCAs
				cl.tls = cfg
				return nil
			},
			"routes": func(v *conf.Value) error {
				list, err := v.AsArray()
				if err != nil {
					return err
				}
				cl.routes = nil
				for _, e := range list {
					s, err := e.AsString()
					if err != nil {
						return err
					}
					a, user, err := routeURLUser(s)
					if err != nil {
						return e.Errorf("%v", err)
					}
					if user != nil {
						cf.urlUsers = append(cf.urlUsers, e)
					}
					cl.routes = append(cl.routes, a)
				}
				return nil
			},
		}
		ks["cluster_advertise"], ks["net"] = ks["advertise"], ks["host"]
		if err := block(refuse(ks, refusedCluster))(v); err != nil {
			return err
		}
		return cf.finish(v, cl)
	}
}

// finish puts the route address together and maps cluster.authorization
// onto the route credential.
func (cf *clusterFile) finish(v *conf.Value, cl *clusterFlags) error {
	if cf.port != nil {
		port := int(cf.port.Int)
		if cf.port.Kind == conf.String { // listen: "host:port"
			_, ps, _ := net.SplitHostPort(cf.port.Str)
			port, _ = strconv.Atoi(ps)
		}
		host := cf.host
		if host == "" {
			host = "0.0.0.0"
		}
		cl.listen = net.JoinHostPort(host, strconv.Itoa(max(port, 0)))
	} else if cf.host != "" {
		return v.Errorf("host %q without a port (set port or listen)", cf.host)
	}
	if cf.auth == nil {
		if len(cf.urlUsers) > 0 {
			return cf.urlUsers[0].Errorf("credentials in a route URL need the same user and password in cluster.authorization (Murmur's routes present and require one shared credential)")
		}
		if cf.cred != nil {
			cl.credential = cf.cred.Str
		}
		return nil
	}
	switch {
	case cf.cred != nil:
		return cf.cred.Errorf("set credential or authorization, not both")
	case cf.user == "" || cf.password == "":
		return cf.auth.Errorf("want user and password (routes present them as one shared credential)")
	}
	for _, e := range cf.urlUsers {
		_, u, _ := routeURLUser(e.Str)
		if p, _ := u.Password(); u.Username() != cf.user || p != cf.password {
			return e.Errorf("not supported by Murmur (route URL credentials differ from cluster.authorization; every route presents and requires one shared credential)")
		}
	}
	// Both ends derive the same secret from the same authorization block.
	cl.credential = cf.user + ":" + cf.password
	return nil
}

// compression takes nats-server's route compression: a boolean, a mode,
// or { mode, rtt_thresholds }. Murmur's route compression is one switch,
// used when both ends offer it: off and s2_uncompressed turn it off;
// accept, on and every s2 level turn it on (S2 at its default level).
func compression(dst *bool) setter {
	mode := func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		switch strings.ToLower(s) {
		case "off", "disabled", "false", "not supported", "not_supported", "s2_uncompressed":
			*dst = false
		case "on", "enabled", "true", "accept", "auto", "s2_auto", "s2_fast", "s2_better", "s2_best":
			*dst = true
		default:
			return v.Errorf("%q: want off, accept, s2_fast, s2_better, s2_best or s2_auto", s)
		}
		return nil
	}
	return func(v *conf.Value) error {
		switch v.Kind {
		case conf.Bool:
			*dst = v.Bool
			return nil
		case conf.Block:
			rtts := func(v *conf.Value) error {
				l, err := v.AsArray()
				if err != nil {
					return err
				}
				for _, e := range l {
					if _, err := e.AsDuration(); err != nil {
						return err
					}
				}
				return nil
			}
			return block(keys{"mode": mode, "rtt_thresholds": rtts, "thresholds": rtts, "rtts": rtts, "rtt": rtts})(v)
		}
		return mode(v)
	}
}

// routeURLUser is routeURL that also returns the URL's credentials.
func routeURLUser(s string) (string, *url.Userinfo, error) {
	if !strings.Contains(s, "://") {
		s = "nats-route://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("%q: %v", s, err)
	case u.Scheme != "nats-route" && u.Scheme != "nats" && u.Scheme != "route" && u.Scheme != "tls":
		return "", nil, fmt.Errorf("%q: want nats-route://host:port", s)
	case u.Port() == "":
		return "", nil, fmt.Errorf("%q: no port", s)
	}
	return u.Host, u.User, nil
}
