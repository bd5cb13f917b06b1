package main

import (
	"net"
	"strconv"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// refusedLeaf are keys of the leafnodes block (nats-server parseLeafNodes)
// Murmur does not implement.
var refusedLeaf = map[string]string{
	"tls":                       "TLS on leaf node connections is not built yet",
	"compression":               "leaf node connections are not compressed",
	"min_version":               "leaf connections of every version are accepted",
	"minimum_version":           "leaf connections of every version are accepted",
	"isolate_leafnode_interest": "leaf node interest is not isolated",
	"isolate":                   "leaf node interest is not isolated",
	"write_deadline":            "leaf connections use the client write_deadline",
	"write_timeout":             "a leaf connection past its write deadline is closed",
	"dial_timeout":              "remotes are dialed with a 5 s handshake bound",
}

// refusedLeafAuth are keys of leafnodes.authorization not implemented.
var refusedLeafAuth = map[string]string{
	"nkey":           "leaf nodes authenticate with user and password or credentials",
	"proxy_required": "trusted proxies are not supported",
}

// refusedLeafRemote are keys of a leafnodes.remotes entry not implemented.
var refusedLeafRemote = map[string]string{
	"tls":                       "TLS on leaf node connections is not built yet",
	"hub":                       "a remote is always this broker's hub",
	"nkey":                      "remotes authenticate with URL credentials or a credentials file",
	"seed":                      "remotes authenticate with URL credentials or a credentials file",
	"ws_compress":               "WebSocket leaf connections are not built yet",
	"ws_compression":            "WebSocket leaf connections are not built yet",
	"websocket_compress":        "WebSocket leaf connections are not built yet",
	"websocket_compression":     "WebSocket leaf connections are not built yet",
	"ws_no_masking":             "WebSocket leaf connections are not built yet",
	"websocket_no_masking":      "WebSocket leaf connections are not built yet",
	"jetstream_cluster_migrate": "JetStream is not built yet",
	"js_cluster_migrate":        "JetStream is not built yet",
	"isolate_leafnode_interest": "leaf node interest is not isolated",
	"isolate":                   "leaf node interest is not isolated",
	"request_isolation":         "leaf node interest is not isolated",
	"compression":               "leaf node connections are not compressed",
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
			"advertise":          addr(&ln.Advertise),
			"leafnode_advertise": addr(&ln.Advertise),
			"no_advertise":       boolean(&ln.NoAdvertise),
			"reconnect":          duration(&ln.Reconnect),
			"reconnect_delay":    duration(&ln.Reconnect),
			"reconnect_interval": duration(&ln.Reconnect),
			"authorization":      block(refuse(auth, refusedLeafAuth)),
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
		if ln.Addr == "" && len(ln.Remotes) == 0 {
			return v.Errorf("neither a listener (port, listen) nor remotes")
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
		"url":            urls,
		"urls":           urls,
		"account":        str(&r.Account),
		"local":          str(&r.Account),
		"credentials":    str(&r.Credentials),
		"creds":          str(&r.Credentials),
		"deny_imports":   stringSlice(&r.DenyImports),
		"deny_import":    stringSlice(&r.DenyImports),
		"deny_exports":   stringSlice(&r.DenyExports),
		"deny_export":    stringSlice(&r.DenyExports),
		"no_randomize":   func(v *conf.Value) error { _, err := v.AsBool(); return err }, // URLs are tried in order
		"dont_randomize": func(v *conf.Value) error { _, err := v.AsBool(); return err },
	}
	if err := block(refuse(ks, refusedLeafRemote))(v); err != nil {
		return r, err
	}
	if len(r.URLs) == 0 {
		return r, v.Errorf("a remote needs url or urls")
	}
	return r, nil
}
