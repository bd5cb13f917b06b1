package jetstream

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Service is a server's JetStream as a whole: its configuration and the
// engines of the accounts that have JetStream. The monitor reads /jsz,
// /varz and /metrics from it. Its methods are safe from any goroutine; a
// Service whose Enable was never called reports JetStream as disabled.
type Service struct {
	serverID string

	mu      sync.Mutex
	enabled bool
	cfg     Config
	engines []*Engine // by account name
}

// NewService returns a disabled service for the server serverID.
func NewService(serverID string) *Service { return &Service{serverID: serverID} }

// Enable records the server's configuration and marks JetStream on.
func (s *Service) Enable(cfg Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enabled, s.cfg = true, cfg
}

// Enabled reports whether JetStream is on.
func (s *Service) Enabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled
}

// Add registers a started engine; Remove drops one (it stays running).
func (s *Service) Add(e *Engine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engines = append(s.engines, e)
	slices.SortFunc(s.engines, func(a, b *Engine) int { return strings.Compare(a.account, b.account) })
}

// Remove drops the engine of account (no-op when there is none).
func (s *Service) Remove(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engines = slices.DeleteFunc(s.engines, func(e *Engine) bool { return e.account == account })
}

// Engine returns account's engine, nil when it has no JetStream.
func (s *Service) Engine(account string) *Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.engines {
		if e.account == account {
			return e
		}
	}
	return nil
}

// Accounts names the accounts with JetStream, sorted.
func (s *Service) Accounts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.engines))
	for i, e := range s.engines {
		out[i] = e.account
	}
	return out
}

// ServerConfig is the configuration as /jsz and /varz report it: the
// limits (-1: none), <store_dir>/jetstream and the sync interval.
func (s *Service) ServerConfig() ServerConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled {
		return ServerConfig{}
	}
	return serverConfig(s.cfg)
}

func serverConfig(c Config) ServerConfig {
	sc := ServerConfig{MaxMemory: -1, MaxStore: -1, StoreDir: filepath.Join(c.StoreDir, "jetstream"), SyncInterval: c.SyncInterval, SyncAlways: c.SyncAlways, Domain: c.Domain}
	if c.MaxMemory > 0 {
		sc.MaxMemory = c.MaxMemory
	}
	if c.MaxStore > 0 {
		sc.MaxStore = c.MaxStore
	}
	if sc.SyncInterval <= 0 {
		sc.SyncInterval = 2 * time.Minute
	}
	return sc
}

// gather reads every engine: their details as asked, and the
// totals. An engine that does not answer (stopping) is left out.
func (s *Service) gather(streams, consumers, config bool) ([]*AccountDetail, []Usage) {
	s.mu.Lock()
	engines := slices.Clone(s.engines)
	s.mu.Unlock()
	var ds []*AccountDetail
	var us []Usage
	for _, e := range engines {
		d, u, err := e.Detail(streams, consumers, config)
		if err != nil {
			continue
		}
		ds, us = append(ds, d), append(us, u)
	}
	return ds, us
}

// Stats are the server's JetStream totals (/varz jetstream.stats).
func (s *Service) Stats() Stats {
	_, us := s.gather(false, false, false)
	return sumStats(us)
}

func sumStats(us []Usage) Stats {
	st := Stats{Accounts: len(us), API: APIStats{Level: apiLevel}}
	for _, u := range us {
		st.Memory += u.Memory
		st.Store += u.Store
		st.ReservedMemory += u.ReservedMemory
		st.ReservedStore += u.ReservedStore
		st.API.Total += u.API.Total
		st.API.Errors += u.API.Errors
	}
	return st
}

// Jsz is the /jsz document (nats-server Server.Jsz): the totals always;
// with Accounts (or Streams, or Consumer) the accounts, paged by Offset
// and Limit; Account picks one account.
func (s *Service) Jsz(opts JszOptions) (*JSInfo, error) {
	opts.Offset = max(opts.Offset, 0)
	if opts.Limit == 0 {
		opts.Limit = 1024
	}
	if opts.Consumer {
		opts.Streams = true
	}
	if opts.Streams && opts.Account == "" {
		opts.Accounts = true
	}
	info := &JSInfo{ID: s.serverID, Now: time.Now().UTC()}
	if !s.Enabled() {
		info.Disabled = true
		return info, nil
	}
	info.Config = s.ServerConfig()
	ds, us := s.gather(opts.Streams, opts.Consumer, opts.Config)
	info.Stats = sumStats(us)
	info.Total = len(ds)
	for _, u := range us {
		info.Streams += u.Streams
		info.Consumers += u.Consumers
		info.Messages += u.Messages
		info.Bytes += u.Bytes
	}
	switch i := slices.IndexFunc(ds, func(d *AccountDetail) bool { return d.Name == opts.Account }); {
	case i >= 0:
		info.AccountDetails = ds[i : i+1]
	case opts.Accounts && opts.Limit > 0:
		ds = ds[min(opts.Offset, len(ds)):]
		info.AccountDetails = ds[:min(opts.Limit, len(ds))]
	}
	if len(info.AccountDetails) == 0 {
		info.AccountDetails = nil
	}
	return info, nil
}

// JszAccount is one account's detail ($SYS.REQ.ACCOUNT.<acc>.JSZ).
func (s *Service) JszAccount(account string, opts JszOptions) (*AccountDetail, error) {
	if !s.Enabled() {
		return nil, fmt.Errorf("jetstream not enabled")
	}
	e := s.Engine(account)
	if e == nil {
		return nil, fmt.Errorf("account %q not jetstream enabled", account)
	}
	d, _, err := e.Detail(opts.Streams || opts.Consumer, opts.Consumer, opts.Config)
	return d, err
}
