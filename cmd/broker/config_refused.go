package main

import (
	conf "github.com/murmurmq/murmur/config"
)

// The keys nats-server 2.15 knows that Murmur does not implement, by
// block, each with the reason an operator reads in the error:
//
//	murmur.conf:12: gateway: not supported by Murmur (gateways between clusters are not built)
//
// A key nats-server knows is never "unknown key": that is kept for typos.
// An entry here is only a fallback: a block's implemented key of the same
// name wins (refuse adds an entry only where the block has none).

// refusedTop are the top-level keys (nats-server's processConfigFileLine).
var refusedTop = map[string]string{
	"gateway":                  "gateways between clusters are not built",
	"default_js_domain":        "per-account default JetStream domains (for leaf nodes) are not built",
	"mqtt":                     "MQTT is not built",
	"https":                    "the monitoring endpoint serves plain HTTP only; put a TLS proxy in front of http",
	"https_port":               "the monitoring endpoint serves plain HTTP only; put a TLS proxy in front of http_port",
	"http_base_path":           "the monitoring endpoint serves at /",
	"prof_block_rate":          "no block profile; use --cpuprofile",
	"proxy_protocol":           "PROXY protocol headers are not parsed",
	"proxies":                  "trusted proxies are not supported",
	"max_sub_tokens":           "subjects are bounded by max_control_line only",
	"max_subscription_tokens":  "subjects are bounded by max_control_line only",
	"ocsp":                     "OCSP stapling is not supported",
	"ocsp_cache":               "OCSP is not supported",
	"allow_non_tls":            "a TLS client port takes TLS clients only; add a websocket or quic listener for others",
	"no_header_support":        "headers are always on",
	"no_fast_producer_stall":   "publishers always wait for a subscriber that is still reading (docs/slow-consumers.md)",
	"feature_flags":            "they switch nats-server internals Murmur does not have",
	"default_sentinel":         "operator-mode sentinel users are not supported",
	"resolver_tls":             "the URL resolver uses the system roots",
	"resolver_pinned_accounts": "every account the resolver knows may connect",
	"trusted":                  "trust an operator JWT with operator",
	"trusted_keys":             "trust an operator JWT with operator",
}

// refusedCluster are keys of the cluster block (nats-server parseCluster).
var refusedCluster = map[string]string{
	"permissions":     "route permissions are not supported; every route carries every subject",
	"accounts":        "pinned-account routes are not supported; Murmur uses one route per peer pair",
	"connect_backoff": "routes are redialed with a backoff up to 5 s already",
	"ping_interval":   "routes use the client ping_interval",
	"ping_max":        "routes use the client ping_max",
	"write_deadline":  "routes use the client write_deadline",
	"write_timeout":   "a route past its write deadline is closed",
}

// refusedClusterAuth are keys of cluster.authorization that a route's
// single shared credential cannot carry.
var refusedClusterAuth = map[string]string{
	"users":               "one user and password for all routes; nats-server refuses a users list here too",
	"token":               "routes take a user and password; nats-server refuses a token here too",
	"auth_callout":        "routes are not authorized by callout",
	"auth_hook":           "routes are not authorized by callout",
	"permissions":         "route permissions are not supported; every route carries every subject",
	"default_permission":  "route permissions are not supported; every route carries every subject",
	"default_permissions": "route permissions are not supported; every route carries every subject",
	"proxy_required":      "trusted proxies are not supported",
}

// refusedTLS are keys of a tls block (nats-server parseTLS).
var refusedTLS = map[string]string{
	"verify_cert_and_check_known_urls": "route and gateway certificate URL checks are not supported",
	"allow_insecure_cipher_suites":     "Go's insecure cipher suites are not offered",
	"connection_rate_limit":            "TLS handshakes are not rate limited",
	"cert_store":                       "the Windows certificate store is not supported; use cert_file and key_file",
	"cert_match_by":                    "the Windows certificate store is not supported; use cert_file and key_file",
	"cert_match":                       "the Windows certificate store is not supported; use cert_file and key_file",
	"ca_certs_match":                   "the Windows certificate store is not supported; use ca_file",
	"cert_match_skip_invalid":          "the Windows certificate store is not supported; use cert_file and key_file",
	"ocsp_peer":                        "OCSP is not supported",
	"certs":                            "one certificate per listener; use cert_file and key_file",
	"certificates":                     "one certificate per listener; use cert_file and key_file",
}

// refusedAuth are keys of the top-level authorization block
// (nats-server parseAuthorization).
var refusedAuth = map[string]string{
	"proxy_required": "trusted proxies are not supported",
}

// refusedUser are keys of a user in authorization.users or an account's
// users (nats-server parseUsers).
var refusedUser = map[string]string{
	"allowed_connection_types": "every user may connect over every listener; restrict a listener with its own authorization block",
	"connection_types":         "every user may connect over every listener; restrict a listener with its own authorization block",
	"clients":                  "every user may connect over every listener; restrict a listener with its own authorization block",
	"proxy_required":           "trusted proxies are not supported",
}

// refuse adds table's keys that ks does not implement, each refused with
// its reason, and returns ks.
func refuse(ks keys, table map[string]string) keys {
	for k, why := range table {
		if _, ok := ks[k]; !ok {
			ks[k] = refused(why)
		}
	}
	return ks
}

// refused is the setter of a key Murmur does not implement.
func refused(why string) setter {
	return func(v *conf.Value) error {
		return v.Errorf("not supported by Murmur (%s)", why)
	}
}
