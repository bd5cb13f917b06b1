package main

import (
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/transport/quic"
)

// refusedLeaf are keys of the leafnodes block (nats-server parseLeafNodes)
// Murmur does not implement.
var refusedLeaf = map[string]string{
	"min_version":     "leaf connections of every version are accepted",
	"minimum_version": "leaf connections of every version are accepted",
	"write_deadline":  "leaf connections use the client write_deadline",
	"write_timeout":   "a leaf connection past its write deadline is closed",
	"dial_timeout":    "remotes are dialed with a 5 s handshake bound",
}

// refusedLeafAuth are keys of leafnodes.authorization not implemented.
var refusedLeafAuth = map[string]string{
	"nkey":           "leaf nodes authenticate with user and password or credentials",
	"proxy_required": "trusted proxies are not supported",
}

// refusedLeafRemote are keys of a leafnodes.remotes entry not implemented.
var refusedLeafRemote = map[string]string{
	"hub":                       "a remote is always this broker's hub",
	"nkey":                      "remotes authenticate with URL credentials or a credentials file",
	"seed":                      "remotes authenticate with URL credentials or a credentials file",
	"ws_no_masking":             "a leaf masks its WebSocket frames, as RFC 6455 asks",
	"websocket_no_masking":      "a leaf masks its WebSocket frames, as RFC 6455 asks",
	"jetstream_cluster_migrate": "JetStream is not built yet",
	"js_cluster_migrate":        "JetStream is not built yet",
	"first_info_timeout":        "the whole remote handshake is bounded at 5 s",
	"dial_timeout":              "the whole remote handshake is bounded at 5 s",
	"disabled":                  "remove the remote instead",
	"proxy":                     "remotes are dialed directly, not through an HTTP proxy",
}

// leafKeys is the leafnodes block (nats-server parseLeafNodes,
// parseLeafAuthorization, parseRemoteLeafNodes); it fills opts.LeafNode.
func leafKeys(o *broker.Options) setter {
	return func(v *conf.Value) error {
		ln := &broker.LeafNodeOptions{}
		var host string
		var port *int
		setPort := func(p int) { port = &p }
		auth := keys{
			"user":     str(&ln.User),
			"username": str(&ln.User),
			"password": str(&ln.Password),
			"pass":     str(&ln.Password),
			"account":  str(&ln.Account),
			"timeout":  duration(&ln.AuthTimeout),
			"users": func(v *conf.Value) error {
				list, err := v.AsArray()
				if err != nil {
					return err
				}
				for _, e := range list {
					var u broker.LeafUser
					if err := block(refuse(keys{
						"user": str(&u.Name), "username": str(&u.Name),
						"password": str(&u.Password), "pass": str(&u.Password),
						"account": str(&u.Account),
					}, refusedLeafAuth))(e); err != nil {
						return err
					}
					if u.Name == "" {
						return e.Errorf("a leaf node user needs a user name")
					}
					ln.Users = append(ln.Users, u)
				}
				return nil
			},
		}
		ks := keys{
			"listen": func(v *conf.Value) error {
				var p int
				if err := hostPort(&host, &p)(v); err != nil {
					return err
				}
				setPort(p)
				return nil
			},
			"host": str(&host),
			"net":  str(&host),
			"port": func(v *conf.Value) error {
				p, err := v.AsIntRange(-1, 65535)
				setPort(int(p))
				return err
			},
			"advertise":                 addr(&ln.Advertise),
			"leafnode_advertise":        addr(&ln.Advertise),
			"no_advertise":              boolean(&ln.NoAdvertise),
			"isolate_leafnode_interest": boolean(&ln.IsolateInterest),
			"isolate":                   boolean(&ln.IsolateInterest),
			"reconnect":                 duration(&ln.Reconnect),
			"reconnect_delay":           duration(&ln.Reconnect),
			"reconnect_interval":        duration(&ln.Reconnect),
			"authorization":             block(refuse(auth, refusedLeafAuth)),
			"quic":                      leafQUICListener(ln),
			"compression":               leafCompression(&ln.Compression),
			"tls": func(v *conf.Value) (err error) {
				ln.TLS, err = decodeTLS(v)
				if err == nil && ln.TLS.HandshakeFirst {
					return v.Errorf("handshake_first: not supported by Murmur (leaf node TLS starts after INFO, as nats-server's)")
				}
				return err
			},
			"remotes": func(v *conf.Value) error {
				list, err := v.AsArray()
				if err != nil {
					return err
				}
				for _, e := range list {
					r, err := leafRemote(e)
					if err != nil {
						return err
					}
					ln.Remotes = append(ln.Remotes, r)
				}
				return nil
			},
		}
		if err := block(refuse(ks, refusedLeaf))(v); err != nil {
			return err
		}
		if port != nil {
			if host == "" {
				host = "0.0.0.0"
			}
			ln.Addr = net.JoinHostPort(host, strconv.Itoa(max(*port, 0)))
		} else if host != "" {
			return v.Errorf("host %q without a port (set port or listen)", host)
		}
		if ln.User != "" && len(ln.Users) > 0 {
			return v.Errorf("authorization: set user or users, not both")
		}
		if ln.Addr == "" && ln.QUIC == nil && len(ln.Remotes) == 0 {
			return v.Errorf("neither a listener (port, listen, quic) nor remotes")
		}
		o.LeafNode = ln
		return nil
	}
}

// leafRemote is one leafnodes.remotes entry.
func leafRemote(v *conf.Value) (broker.RemoteLeaf, error) {
	var r broker.RemoteLeaf
	urls := func(v *conf.Value) error {
		l, err := v.AsStrings()
		if err != nil {
			return err
		}
		for _, u := range l {
			if err := broker.CheckRemoteLeafURL(u); err != nil {
				return v.Errorf("%v", err)
			}
		}
		r.URLs = append(r.URLs, l...)
		return nil
	}
	ks := keys{
		"url":                       urls,
		"urls":                      urls,
		"account":                   str(&r.Account),
		"local":                     str(&r.Account),
		"credentials":               str(&r.Credentials),
		"creds":                     str(&r.Credentials),
		"deny_imports":              stringSlice(&r.DenyImports),
		"deny_import":               stringSlice(&r.DenyImports),
		"deny_exports":              stringSlice(&r.DenyExports),
		"deny_export":               stringSlice(&r.DenyExports),
		"isolate_leafnode_interest": boolean(&r.Isolate),
		"isolate":                   boolean(&r.Isolate),
		"request_isolation":         boolean(&r.RequestIsolation),
		"tls": func(v *conf.Value) (err error) {
			r.TLS, err = remoteTLS(v)
			return err
		},
		"quic": func(v *conf.Value) (err error) {
			r.QUIC, err = remoteQUIC(v)
			return err
		},
		"compression":           leafCompression(&r.Compression),
		"ws_compress":           boolean(&r.WSCompression),
		"ws_compression":        boolean(&r.WSCompression),
		"websocket_compress":    boolean(&r.WSCompression),
		"websocket_compression": boolean(&r.WSCompression),
		"no_randomize":          func(v *conf.Value) error { _, err := v.AsBool(); return err }, // URLs are tried in order
		"dont_randomize":        func(v *conf.Value) error { _, err := v.AsBool(); return err },
	}
	if err := block(refuse(ks, refusedLeafRemote))(v); err != nil {
		return r, err
	}
	if len(r.URLs) == 0 {
		return r, v.Errorf("a remote needs url or urls")
	}
	if r.QUIC == nil && slices.ContainsFunc(r.URLs, func(u string) bool { return strings.HasPrefix(u, "quic://") }) {
		// A quic:// URL with no quic block: verify the hub against the
		// system roots.
		t, err := quic.New(quic.DefaultConfig())
		if err != nil {
			return r, v.Errorf("quic: %v", err)
		}
		r.QUIC = t
	}
	return r, nil
}

// remoteTLS is a remote's tls block: the client side of a leaf
// connection. ca_file is the CAs that sign the hub's certificate (default
// the system roots), cert_file and key_file an optional client
// certificate, insecure skips verifying the hub.
func remoteTLS(v *conf.Value) (*tls.Config, error) {
	var cert, key, ca *conf.Value
	var insecure bool
	ks := keys{
		"cert_file": keep(&cert),
		"key_file":  keep(&key),
		"ca_file":   keep(&ca),
		"insecure":  boolean(&insecure),
		"timeout":   func(v *conf.Value) error { _, err := v.AsDuration(); return err }, // the handshake is bounded at 5 s
		"verify":    func(v *conf.Value) error { _, err := v.AsBool(); return err },     // a dialer always verifies, unless insecure
	}
	if err := block(refuse(ks, refusedTLS))(v); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if (cert == nil) != (key == nil) {
		return nil, v.Errorf("cert_file and key_file go together")
	}
	if cert != nil {
		pair, err := tls.LoadX509KeyPair(cert.Str, key.Str)
		if err != nil {
			return nil, cert.Errorf("loading the key pair: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ca != nil {
		pool, err := caPool(ca.Str)
		if err != nil {
			return nil, ca.Errorf("%v", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// leafQUICListener is Murmur's leafnodes.quic block: a QUIC listener for
// leaf connections between Murmur brokers (docs/leafnodes.md), with its
// certificate (a self-signed one when none is given; its fingerprint is
// logged, for the leaves to pin).
func leafQUICListener(ln *broker.LeafNodeOptions) setter {
	return func(v *conf.Value) error {
		var host, cert, key, advertise string
		var port int
		portSet := false
		if err := block(keys{
			"listen": func(v *conf.Value) error {
				portSet = true
				return hostPort(&host, &port)(v)
			},
			"host": str(&host),
			"port": func(v *conf.Value) error {
				portSet = true
				return integer(&port, -1, 65535)(v)
			},
			"cert_file": str(&cert),
			"key_file":  str(&key),
			"advertise": str(&advertise),
		})(v); err != nil {
			return err
		}
		if !portSet {
			return v.Errorf("needs a port (port or listen)")
		}
		qc := quic.DefaultConfig()
		qc.CertFile, qc.KeyFile = cert, key
		t, err := quic.New(qc)
		if err != nil {
			return v.Errorf("%v", err)
		}
		if host == "" {
			host = "0.0.0.0"
		}
		ln.QUIC = &broker.Listener{Transport: t, Addr: net.JoinHostPort(host, strconv.Itoa(max(port, 0)))}
		if _, _, err := net.SplitHostPort(advertise); advertise != "" && err != nil {
			return v.Errorf("advertise: %q is not host:port", advertise)
		}
		ln.QUICAdvertise = advertise
		return nil
	}
}

// addStrings appends a string or an array of strings to dst.
func addStrings(dst *[]string) setter {
	return func(v *conf.Value) error {
		s, err := v.AsStrings()
		*dst = append(*dst, s...)
		return err
	}
}

// remoteQUIC is a remote's quic block: how a quic:// hub is trusted, by
// pinning its certificate (fingerprint, the hex SHA-256 the hub logs),
// by CAs (ca_file), or not at all (insecure).
func remoteQUIC(v *conf.Value) (*quic.Transport, error) {
	var fingerprints []string
	var ca *conf.Value
	dc := quic.DefaultDialConfig()
	if err := block(keys{
		"fingerprint":  addStrings(&fingerprints),
		"fingerprints": addStrings(&fingerprints),
		"ca_file":      keep(&ca),
		"insecure":     boolean(&dc.InsecureSkipVerify),
	})(v); err != nil {
		return nil, err
	}
	dc.Fingerprints = fingerprints
	if ca != nil {
		pool, err := caPool(ca.Str)
		if err != nil {
			return nil, ca.Errorf("%v", err)
		}
		dc.RootCAs = pool
	}
	qc := quic.DefaultConfig()
	qc.Dial = dc
	t, err := quic.New(qc)
	if err != nil {
		return nil, v.Errorf("%v", err)
	}
	return t, nil
}
