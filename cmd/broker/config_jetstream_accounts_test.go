package main

import (
	"io"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/jetstream"
)

// TestJetStreamAccountConfig: accounts.<name>.jetstream takes
// nats-server's forms (enabled, disabled, a boolean, a block of limits
// with its key aliases); what is not set stays -1; bad values name the
// file, line and key.
func TestJetStreamAccountConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConf(t, dir, `jetstream: enabled
accounts {
  A: { jetstream: { max_mem: 1K, max_file: 2M, max_streams: 3, max_consumers: 4, max_ack_pending: 5, max_bytes_required: true, memory_max_stream_bytes: 100, store_max_stream_bytes: 200 } }
  B: { jetstream: enabled }
  C: { jetstream: disabled }
  D: { jetstream: { memory: 10, disk: 20, streams: 1, consumers: 2 } }
  E: { jetstream: true }
  F: { users: [{user: f}] }
}
`)
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	acc := cfg.js.accounts
	want := jetstream.AccountLimits{MaxMemory: 1000, MaxStore: 2e6, MaxStreams: 3, MaxConsumers: 4, MaxAckPending: 5, MaxBytesRequired: true, MemoryMaxStream: 100, StoreMaxStream: 200}
	if a := acc["A"]; a == nil || !a.enabled || a.limits != want {
		t.Errorf("A: %+v, want %+v", a, want)
	}
	if b := acc["B"]; b == nil || !b.enabled || b.limits != jetstream.NoLimits() {
		t.Errorf("B: %+v", b)
	}
	if c := acc["C"]; c == nil || c.enabled {
		t.Errorf("C: %+v, want disabled", c)
	}
	d := jetstream.NoLimits()
	d.MaxMemory, d.MaxStore, d.MaxStreams, d.MaxConsumers = 10, 20, 1, 2
	if a := acc["D"]; a == nil || !a.enabled || a.limits != d {
		t.Errorf("D: %+v, want %+v", a, d)
	}
	if e := acc["E"]; e == nil || !e.enabled {
		t.Errorf("E: %+v", e)
	}
	if acc["F"] != nil {
		t.Errorf("F has no jetstream key: %+v", acc["F"])
	}
	for text, want := range map[string]string{
		"accounts { A: { jetstream: maybe } }":                              `:1: accounts.A.jetstream: want enabled or disabled, got "maybe"`,
		"accounts { A: { jetstream: { max_mem: -2 } } }":                    ":1: accounts.A.jetstream.max_mem: want a size in bytes (or -1 for no limit), got -2",
		"accounts { A: { jetstream: { max_streams: x } } }":                 ":1: accounts.A.jetstream.max_streams: want",
		"accounts { A: { jetstream: { bogus: 1 } } }":                       ":1: accounts.A.jetstream.bogus: unknown key",
		"accounts { A: { jetstream: { max_bytes: 3 } } }":                   ":1: accounts.A.jetstream.max_bytes: want",
		"accounts { A: { jetstream: 5 } }":                                  ":1: accounts.A.jetstream: want enabled, disabled, a boolean or a block of limits",
		"accounts {\n A: {\n  jetstream: { cluster_traffic: owner }\n }\n}": ":3: accounts.A.jetstream.cluster_traffic:",
	} {
		_, err := parseFlags([]string{"-c", writeConf(t, dir, text+"\n")}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "murmur.conf:") {
			t.Errorf("%q: got %v, want %s", text, err, want)
		}
	}
}
