package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/jetstream"
)

// jsFlags are nats-server's JetStream settings: the jetstream block (or
// `jetstream: enabled`), the top-level store_dir, and -js / -sd.
type jsFlags struct {
	enabled bool
	cfg     jetstream.Config
	// accounts are the accounts' jetstream keys (config_jetstream_accounts.go).
	accounts map[string]*jsAccount
	// run is the running JetStream (jetstream_run.go), carried over
	// reloads; nil while JetStream is off.
	run *jsRunner
}

// defaultStoreDir is nats-server's: <tmp>/nats/jetstream.
func defaultStoreDir() string { return filepath.Join(os.TempDir(), "nats", "jetstream") }

func (j *jsFlags) register(fs *flag.FlagSet) {
	for _, n := range []string{"js", "jetstream"} {
		fs.BoolVar(&j.enabled, n, j.enabled, "enable JetStream")
	}
	for _, n := range []string{"sd", "store_dir"} {
		fs.Func(n, "JetStream store `dir` (enables JetStream)", func(s string) error {
			j.cfg.StoreDir = s
			j.enabled = true
			return nil
		})
	}
}

// keys adds the jetstream block and store_dir to the file's keys.
func (j *jsFlags) keys(ks keys) {
	ks["store_dir"] = func(v *conf.Value) error {
		j.enabled = true
		return str(&j.cfg.StoreDir)(v)
	}
	ks["storedir"] = ks["store_dir"]
	block := block(keys{
		"store_dir":        str(&j.cfg.StoreDir),
		"store":            str(&j.cfg.StoreDir),
		"storedir":         str(&j.cfg.StoreDir),
		"max_memory_store": size64(&j.cfg.MaxMemory),
		"max_mem_store":    size64(&j.cfg.MaxMemory),
		"max_mem":          size64(&j.cfg.MaxMemory),
		"max_file_store":   size64(&j.cfg.MaxStore),
		"max_file":         size64(&j.cfg.MaxStore),
		"sync_interval": func(v *conf.Value) error {
			if s, err := v.AsString(); err == nil && strings.EqualFold(s, "always") {
				j.cfg.SyncAlways = true
				return nil
			}
			d, err := v.AsDuration()
			if err == nil && d <= 0 {
				return v.Errorf("want a positive duration or always")
			}
			j.cfg.SyncInterval = d
			return err
		},
		"enabled": boolean(&j.enabled),
		"domain": func(v *conf.Value) error {
			d, err := v.AsString()
			if err == nil && !jetstream.ValidDomain(d) {
				return v.Errorf("invalid domain name: may not contain ., * or >")
			}
			j.cfg.Domain = d
			return err
		},
	})
	ks["jetstream"] = func(v *conf.Value) error {
		switch v.Kind {
		case conf.Block:
			j.enabled = true
			return block(v)
		case conf.Bool:
			j.enabled = v.Bool
			return nil
		}
		s, err := v.AsString()
		if err != nil {
			return v.Errorf("want enabled, disabled, a boolean or a block")
		}
		switch strings.ToLower(s) {
		case "enabled", "enable", "true", "on", "yes":
			j.enabled = true
		case "disabled", "disable", "false", "off", "no":
			j.enabled = false
		default:
			return v.Errorf("want enabled or disabled, got %q", s)
		}
		return nil
	}
}

func size64(dst *int64) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsInt()
		if err == nil && *dst < -1 {
			return v.Errorf("want a size in bytes (or -1), got %d", *dst)
		}
		return err
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
