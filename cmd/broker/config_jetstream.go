package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
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
		"domain":  refused("JetStream domains are not built yet"),
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

// startJetStream runs JetStream as nats-server does: without accounts,
// in the global account; with accounts, in each account whose jetstream
// key enables it, with its limits, while the others (and $G) answer the
// API with 10039. The system account never has it. svc learns the
// engines; the returned stop closes them.
func startJetStream(j *jsFlags, svc *jetstream.Service, srv *broker.Server, name string, log *zap.Logger) (stop func(), err error) {
	if !j.enabled {
		return func() {}, nil
	}
	cfg := j.cfg
	if cfg.StoreDir == "" {
		cfg.StoreDir = defaultStoreDir()
	}
	cfg.ServerName = name
	if cfg.ServerName == "" {
		cfg.ServerName = srv.Name() // the server id when unnamed, as nats-server
	}
	svc.Enable(cfg)
	var closers []func()
	stop = func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	perAccount := false
	if a := srv.Options().Auth; a != nil && len(a.Accounts) > 0 {
		perAccount = true
	}
	enabled := 0
	for _, acc := range srv.AccountNames() {
		ja := j.accounts[acc]
		if perAccount && (ja == nil || !ja.enabled) {
			r := jetstream.NewRefuser()
			ic, err := srv.NewInternalClient(acc, r.Handle)
			if err != nil {
				stop()
				return nil, err
			}
			closers = append(closers, ic.Close)
			if err := r.Start(ic); err != nil {
				stop()
				return nil, err
			}
			closers = append(closers, r.Close)
			continue
		}
		e := jetstream.New(cfg, acc, log)
		if ja != nil {
			e.SetLimits(ja.limits)
		}
		ic, err := srv.NewInternalClient(acc, e.Handle)
		if err != nil {
			stop()
			return nil, err
		}
		closers = append(closers, ic.Close)
		if err := e.Start(ic); err != nil {
			stop()
			return nil, err
		}
		svc.Add(e)
		closers = append(closers, func() { svc.Remove(acc); e.Close() })
		enabled++
	}
	log.Info("JetStream enabled", zap.String("store_dir", cfg.StoreDir), zap.Duration("sync_interval", orDefault(cfg.SyncInterval, 2*time.Minute)), zap.Int("accounts", enabled))
	return stop, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
