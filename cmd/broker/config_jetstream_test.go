package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestJetStreamConfig: the jetstream block, store_dir and -js/-sd fill the
// JetStream settings as nats-server's do; bad values name the line.
func TestJetStreamConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConf(t, dir, "jetstream {\n  store_dir: /data/js\n  max_memory_store: 1G\n  max_file_store: 10GB\n  sync_interval: 5s\n}\n")
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.js
	if !j.enabled || j.cfg.StoreDir != "/data/js" || j.cfg.MaxMemory != 1e9 || j.cfg.MaxStore != 10<<30 || j.cfg.SyncInterval != 5*time.Second {
		t.Fatalf("parsed %+v", j)
	}
	cfg, err = parseFlags([]string{"-sd", dir}, io.Discard)
	if err != nil || !cfg.js.enabled || cfg.js.cfg.StoreDir != dir {
		t.Fatalf("-sd: %+v %v", cfg.js, err)
	}
	cfg, err = parseFlags([]string{"-js"}, io.Discard)
	if err != nil || !cfg.js.enabled {
		t.Fatalf("-js: %+v %v", cfg.js, err)
	}
	for text, want := range map[string]string{
		"jetstream: maybe":                 `:1: jetstream: want enabled or disabled, got "maybe"`,
		"jetstream { sync_interval: -1s }": ":1: jetstream.sync_interval: duration -1s is negative",
		"jetstream { max_file_store: -5 }": ":1: jetstream.max_file_store: want a size in bytes (or -1), got -5",
		"jetstream { bogus: 1 }":           ":1: jetstream.bogus: unknown key",
	} {
		_, err := parseFlags([]string{"-c", writeConf(t, dir, text+"\n")}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", text, err, want)
		}
	}
	cfg, err = parseFlags([]string{"-c", writeConf(t, dir, "jetstream: enabled\nstore_dir: /x\n")}, io.Discard)
	if err != nil || !cfg.js.enabled || cfg.js.cfg.StoreDir != "/x" {
		t.Fatalf("enabled + store_dir: %+v %v", cfg.js, err)
	}
}
