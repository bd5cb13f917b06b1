package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/broker"
)

// Bad flags are refused with a message naming them.
func TestBadFlagsNamed(t *testing.T) {
	cases := map[string][]string{
		"port":                  {"-p", "70000"},
		"max_payload":           {"--max_payload", "0"},
		"max_pending":           {"--max_pending", "10", "--max_payload", "100"},
		"ping_interval":         {"--ping_interval", "-1s"},
		"http_port":             {"-m", "99999"},
		"stats_interval":        {"--stats_interval", "-1s"},
		"system_password":       {"--system_password", "x"},
		"quic_port":             {"--quic_port", "70000"},
		"quic_cert":             {"--quic_cert", "x.pem"},
		"gossip_seeds":          {"--gossip_seeds", "127.0.0.1:1"},
		"SecretKey":             {"--cluster", "127.0.0.1:0", "--gossip_key", "c2hvcnQ="},
		"Profile":               {"--cluster", "127.0.0.1:0", "--gossip_profile", "fast"},
		"cluster":               {"--cluster", "nonsense"},
		"gossip_probe_interval": {"--cluster", "127.0.0.1:0", "--gossip_probe_interval", "-1s"},
		"bogus":                 {"--bogus"},
	}
	for name, args := range cases {
		_, err := parseFlags(args, io.Discard)
		if err == nil {
			t.Errorf("%v: accepted", args)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %q does not name %s", args, err, name)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.Port != 4222 || o.Host != "0.0.0.0" || cfg.monitor.httpPort != 8222 || o.Cluster != nil || cfg.quic != nil {
		t.Fatalf("defaults: port %d host %s http %d cluster %v quic %v", o.Port, o.Host, cfg.monitor.httpPort, o.Cluster, cfg.quic)
	}
	cfg, err = parseFlags([]string{"--quic_port", "-1", "--cluster", "127.0.0.1:0", "--gossip_seeds", "127.0.0.1:4248"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.opts.Listeners) != 2 || cfg.quic == nil || cfg.opts.Cluster == nil || len(cfg.gossip.Seeds) != 1 {
		t.Fatalf("quic+cluster flags not applied: %+v", cfg.opts)
	}
}

func TestSystemUserIsolated(t *testing.T) {
	cfg, err := parseFlags([]string{"--system_user", "sys", "--system_password", "pw"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	cfg.monitor.applySystemUser(&o)
	if s := o.Auth.System; s == nil || s.Name != "sys" || s.Password != "pw" || len(o.Auth.Users) != 0 {
		t.Fatalf("system user alone: %+v", o.Auth)
	}
	o.Auth = &broker.AuthOptions{Users: []broker.User{{Name: "app", Password: "x"}}}
	cfg.monitor.applySystemUser(&o)
	if s := o.Auth.System; s == nil || s.Name != "sys" || s.Password != "pw" || len(o.Auth.Users) != 1 {
		t.Fatalf("system user %+v, users %+v", s, o.Auth.Users)
	}
}

// TestNatsServerFlags: nats-server's flags work as there: credentials,
// combined log switches, TLS, sizes with suffixes, -v, -t; the ones
// Murmur lacks are refused by name in one line.
func TestNatsServerFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfg, err := parseFlags([]string{"--user", "u", "--pass", "p", "-DV", "--max_payload", "2MB", "--tls", "--tlscert", cert, "--tlskey", key}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.opts.Auth; a == nil || len(a.Users) != 1 || a.Users[0].Name != "u" || a.Users[0].Password != "p" {
		t.Fatalf("--user/--pass: %+v", cfg.opts.Auth)
	}
	if !cfg.log.debug || !cfg.log.trace || cfg.opts.MaxPayload != 2<<20 || cfg.opts.TLS == nil {
		t.Fatalf("-DV %v %v, max_payload %d, tls %v", cfg.log.debug, cfg.log.trace, cfg.opts.MaxPayload, cfg.opts.TLS)
	}
	if cfg, err = parseFlags([]string{"--auth", "tok"}, io.Discard); err != nil || cfg.opts.Auth.Token != "tok" {
		t.Fatalf("--auth: %v", err)
	}
	if _, err := parseFlags([]string{"-v"}, io.Discard); !errors.Is(err, errVersion) {
		t.Fatalf("-v: %v", err)
	}
	path := writeConf(t, dir, "port: 4333\n")
	if _, err := parseFlags([]string{"-t", "-c", path}, io.Discard); !errors.Is(err, errTested) || !strings.Contains(err.Error(), path+" is valid (sha256:") {
		t.Fatalf("-t: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--routes", "nats://127.0.0.1:6222"}, "routes need a route listener"},
		{[]string{"--cluster", "127.0.0.1:0", "--routes", "nats://u:p@127.0.0.1:6222"}, "credentials in a route URL are not supported"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus (see --help)"},
		{[]string{"--max_payload", "lots"}, `"lots" is not a size`},
		{[]string{"--pass", "p"}, "--pass: set without --user"},
		{[]string{"--tls"}, "--tls: needs --tlscert and --tlskey"},
	} {
		var out strings.Builder
		_, err := parseFlags(tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
			t.Errorf("%v: %v (printed %q), want one line with %q", tc.args, err, out.String(), tc.want)
		}
	}
}

// TestConfiguredRoutes: cluster.routes (and --routes) as nats-server takes
// them become the addresses the broker keeps routes to.
func TestConfiguredRoutes(t *testing.T) {
	dir := t.TempDir()
	path := writeConf(t, dir, "cluster {\n  listen: 127.0.0.1:6222\n  routes: [ nats-route://127.0.0.1:6223, \"nats://127.0.0.2:6224\", 127.0.0.3:6225 ]\n}\n")
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.cluster.routes, ","); got != "127.0.0.1:6223,127.0.0.2:6224,127.0.0.3:6225" {
		t.Fatalf("routes %s", got)
	}
	if cfg, err = parseFlags([]string{"-c", path, "--routes", "nats-route://10.0.0.1:6222"}, io.Discard); err != nil || strings.Join(cfg.cluster.routes, ",") != "10.0.0.1:6222" {
		t.Fatalf("--routes over the file: %v %v", err, cfg)
	}
	bad := writeConf(t, dir, "cluster {\n  listen: 127.0.0.1:6222\n  routes: [ \"http://x:1\" ]\n}\n")
	if _, err := parseFlags([]string{"-c", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), ".conf:3: cluster.routes") || !strings.Contains(err.Error(), "want nats-route://host:port") {
		t.Fatalf("bad route URL: %v", err)
	}
}
