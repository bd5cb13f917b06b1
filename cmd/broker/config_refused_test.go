package main

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"
)

// nats-server 2.15's config keys, block by block (server/opts.go:
// processConfigFileLine, parseCluster, parseTLS, parseAuthorization,
// parseUsers, parseUserPermissions).
var natsServerKeys = map[string][]string{
	"": {"listen", "client_advertise", "port", "server_name", "host", "net", "debug", "trace",
		"disable_sublist_cache", "no_sublist_cache", "accounts", "default_sentinel", "authorization",
		"http", "https", "http_port", "monitor_port", "https_port", "http_base_path", "cluster", "gateway",
		"leaf", "leafnodes", "store_dir", "storedir", "jetstream", "logfile", "log_file",
		"pidfile", "pid_file", "ports_file_dir", "prof_block_rate", "max_control_line",
		"max_payload", "max_pending", "proxy_protocol", "max_connections", "max_conn",
		"max_subscriptions", "max_subs", "max_sub_tokens", "max_subscription_tokens", "ping_interval",
		"ping_max", "tls", "ocsp", "allow_non_tls", "write_deadline", "write_timeout", "lame_duck_duration",
		"lame_duck_grace_period", "operator", "operators", "roots", "root", "root_operators", "root_operator",
		"resolver", "account_resolver", "accounts_resolver", "resolver_tls", "resolver_preload",
		"resolver_pinned_accounts", "no_auth_user", "system_account", "system", "no_system_account",
		"no_system", "no_sys_acc", "no_header_support", "trusted", "trusted_keys", "connect_error_reports",
		"reconnect_error_reports", "websocket", "ws", "mqtt", "server_tags", "server_metadata",
		"feature_flags", "default_js_domain", "ocsp_cache", "no_fast_producer_stall", "max_closed_clients",
		"proxies", "trace_verbose", "trace_headers", "logtime", "logtime_utc", "logfile_size_limit",
		"log_size_limit", "logfile_max_num", "log_max_num", "syslog", "remote_syslog", "max_traced_msg_len",
		"debug", "trace",
		"mappings", "maps", "prof_port",
	},
	"cluster": {"name", "listen", "port", "host", "net", "authorization", "routes", "tls",
		"cluster_advertise", "advertise", "no_advertise", "connect_retries", "connect_backoff",
		"permissions", "pool_size", "accounts", "compression", "ping_interval", "ping_max",
		"write_deadline", "write_timeout"},
	"cluster.authorization": {"user", "username", "pass", "password", "token", "timeout", "users",
		"default_permission", "default_permissions", "permissions", "auth_callout", "auth_hook", "proxy_required"},
	"tls": {"cert_file", "key_file", "ca_file", "insecure", "verify", "verify_and_map",
		"verify_cert_and_check_known_urls", "allow_insecure_cipher_suites", "cipher_suites",
		"curve_preferences", "timeout", "connection_rate_limit", "pinned_certs", "cert_store",
		"cert_match_by", "cert_match", "ca_certs_match", "handshake_first", "first", "immediate",
		"cert_match_skip_invalid", "ocsp_peer", "certs", "certificates", "min_version"},
	"leafnodes": {"listen", "port", "host", "net", "authorization", "remotes", "reconnect", "reconnect_delay",
		"reconnect_interval", "dial_timeout", "tls", "leafnode_advertise", "advertise", "no_advertise",
		"min_version", "minimum_version", "compression", "isolate_leafnode_interest", "isolate",
		"write_deadline", "write_timeout"},
	"leafnodes.authorization": {"user", "username", "pass", "password", "nkey", "timeout", "users", "account", "proxy_required"},
	"cluster.tls":             {"insecure", "verify", "pinned_certs", "timeout", "certs", "ocsp_peer"},
	"authorization": {"user", "username", "pass", "password", "token", "timeout", "users",
		"default_permission", "default_permissions", "permissions", "auth_callout", "auth_hook", "proxy_required"},
}

// confWith is a file setting key to a value of the wrong type inside
// the block path ("cluster.tls"), so that only the key's name is judged.
func confWith(path, key string) string {
	text := key + ": [[1]]"
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] != "" {
			text = parts[i] + " { " + text + " }"
		}
	}
	return text
}

// TestConfigKnowsNatsServerKeys: every key nats-server knows is either
// implemented (a wrong value is a type error) or refused by name, never
// "unknown key"; a key nats-server does not know still is.
func TestConfigKnowsNatsServerKeys(t *testing.T) {
	for path, ks := range natsServerKeys {
		for _, k := range ks {
			text := confWith(path, k)
			_, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), text)}, io.Discard)
			if err != nil && strings.Contains(err.Error(), "unknown key") {
				t.Errorf("%s: %v", text, err)
			}
		}
		text := confWith(path, "no_such_key")
		_, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no_such_key: unknown key") {
			t.Errorf("%s: %v, want unknown key", text, err)
		}
	}
}

// TestConfigRefusals: a key Murmur does not implement stops the broker
// with file:line: key: not supported by Murmur (why).
func TestConfigRefusals(t *testing.T) {
	cases := []struct{ text, want string }{
		{"port: 4222\ngateway { name: A, port: 7222 }", ":2: gateway: not supported by Murmur (gateways between clusters are not built)"},
		{"leafnodes { port: 7422, min_version: \"2.8.0\" }", ":1: leafnodes.min_version: not supported by Murmur (leaf connections of every version are accepted)"},
		{"leaf { remotes: [ { url: \"nats://h:7422\", hub: true } ] }", ":1: leaf.remotes[0].hub: not supported by Murmur (a remote is always this broker's hub)"},
		{"leafnodes { remotes: [ { url: \"mqtt://h:443\" } ] }", `:1: leafnodes.remotes[0].url: url "mqtt://h:443": scheme "mqtt" is not supported (nats://, tls://, ws://, wss:// or quic://)`},
		{"default_js_domain { A: hub }", ":1: default_js_domain: not supported by Murmur (per-account default JetStream domains (for leaf nodes) are not built)"},
		{"mqtt { port: 1883 }", ":1: mqtt: not supported by Murmur (MQTT is not built)"},
		{"https: 8443", ":1: https: not supported by Murmur (the monitoring endpoint serves plain HTTP only; put a TLS proxy in front of http)"},
		{"https_port: 8443", ":1: https_port: not supported by Murmur (the monitoring endpoint serves plain HTTP only; put a TLS proxy in front of http_port)"},
		{"http_base_path: /nats", ":1: http_base_path: not supported by Murmur (the monitoring endpoint serves at /)"},
		{"ocsp: true", ":1: ocsp: not supported by Murmur (OCSP stapling is not supported)"},
		{"allow_non_tls: true", ":1: allow_non_tls: not supported by Murmur (a TLS client port takes TLS clients only; add a websocket or quic listener for others)"},
		{"proxy_protocol: true", ":1: proxy_protocol: not supported by Murmur (PROXY protocol headers are not parsed)"},
		{"write_timeout: retry", ":1: write_timeout: not supported by Murmur (a write past write_deadline always closes the client)"},
		{"cluster {\n port: 6222\n permissions { import: foo }\n}", ":3: cluster.permissions: not supported by Murmur (route permissions are not supported; every route carries every subject)"},
		{"cluster { port: 6222, connect_backoff: true }", ":1: cluster.connect_backoff: not supported by Murmur (routes are redialed with a backoff up to 5 s already)"},
		{"cluster { port: 6222, authorization { token: t } }", ":1: cluster.authorization.token: not supported by Murmur (routes take a user and password; nats-server refuses a token here too)"},
		{"cluster { port: 6222, authorization { user: a, password: b }\n routes: [\"nats://x:y@127.0.0.1:6223\"] }", ":2: cluster.routes[0]: not supported by Murmur (route URL credentials differ from cluster.authorization; every route presents and requires one shared credential)"},
		{"tls { cert_store: WindowsCurrentUser }", ":1: tls.cert_store: not supported by Murmur (the Windows certificate store is not supported; use cert_file and key_file)"},
		{"tls { ocsp_peer: true }", ":1: tls.ocsp_peer: not supported by Murmur (OCSP is not supported)"},
		{"tls { handshake_first: auto }", `:1: tls.handshake_first: not supported by Murmur ("auto": a port is TLS-first or INFO-first, with no fallback between them)`},
		{"authorization { users: [ {user: a, allowed_connection_types: [STANDARD]} ] }", ":1: authorization.users[0].allowed_connection_types: not supported by Murmur (every user may connect over every listener; restrict a listener with its own authorization block)"},
	}
	for _, tc := range cases {
		path := writeConf(t, t.TempDir(), tc.text)
		_, err := parseFlags([]string{"-c", path}, io.Discard)
		if want := path + tc.want; err == nil || err.Error() != want {
			t.Errorf("%q:\n error %v\n want  %s", tc.text, err, want)
		}
	}
}

// TestConfigNatsServerKeys: the nats-server keys Murmur implements land
// in the options.
func TestConfigNatsServerKeys(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	path := writeConf(t, dir, `
client_advertise: "nats.example.com:4333"
max_closed_clients: 50
server_tags: ["region:eu", "az:1"]
server_metadata { owner: ops }
ports_file_dir: "`+dir+`"
pidfile: "`+dir+`/b.pid"
connect_error_reports: 10
reconnect_error_reports: 2
no_sublist_cache: true
no_sys_acc: true
write_timeout: close
tls {
  cert_file: "`+cert+`"
  key_file: "`+key+`"
  min_version: "1.3"
  cipher_suites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
  curve_preferences: ["CurveP256", "X25519"]
  pinned_certs: ["a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1"]
  verify_and_map: true
  timeout: 0.5
  handshake_first: on
}
cluster {
  host: 127.0.0.1
  port: 6333
  name: c1
  authorization { user: ruser, password: s3cret, timeout: 2 }
  routes: ["nats-route://ruser:s3cret@127.0.0.1:6334"]
  no_advertise: true
  connect_retries: 3
  pool_size: 3
  compression: { mode: s2_auto, rtt_thresholds: ["10ms", "50ms", "100ms"] }
}
`)
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.ClientAdvertise != "nats.example.com:4333" || o.MaxClosedClients != 50 || strings.Join(o.Tags, ",") != "region:eu,az:1" || o.Metadata["owner"] != "ops" {
		t.Errorf("advertise %q closed %d tags %v metadata %v", o.ClientAdvertise, o.MaxClosedClients, o.Tags, o.Metadata)
	}
	if cfg.server.portsFileDir != dir || cfg.cli.pidFile != dir+"/b.pid" || !cfg.monitor.noSystem || cfg.server.connectErrorReports != 10 {
		t.Errorf("ports %q pid %q noSystem %v", cfg.server.portsFileDir, cfg.cli.pidFile, cfg.monitor.noSystem)
	}
	tc := o.TLS.Config
	if tc.MinVersion != tls.VersionTLS13 || len(tc.CipherSuites) != 1 || len(tc.CurvePreferences) != 2 || tc.VerifyConnection == nil ||
		!o.TLS.Map || tc.ClientAuth != tls.RequireAndVerifyClientCert || !o.TLS.HandshakeFirst || o.TLS.Timeout.Milliseconds() != 500 {
		t.Errorf("tls %+v", o.TLS)
	}
	c := o.Cluster
	if c == nil || c.Listen.Addr != "127.0.0.1:6333" || c.Credential != "ruser:s3cret" || !c.NoAdvertise || !c.Compression {
		t.Fatalf("cluster %+v", c)
	}
	if len(cfg.cluster.routes) != 1 || cfg.cluster.routes[0] != "127.0.0.1:6334" {
		t.Errorf("routes %v", cfg.cluster.routes)
	}
	for mode, on := range map[string]bool{"off": false, "accept": true, "s2_fast": true, "s2_better": true, "s2_best": true, "s2_auto": true, "false": false, "true": true} {
		cfg, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), "cluster { port: -1, compression: "+mode+" }")}, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if cfg.opts.Cluster.Compression != on {
			t.Errorf("compression %s: %v, want %v", mode, cfg.opts.Cluster.Compression, on)
		}
	}
}
