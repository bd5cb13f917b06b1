package main

import (
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
