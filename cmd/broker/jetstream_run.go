package main

import (
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

// jsRunner runs JetStream in the server's accounts as nats-server does:
// without configured accounts, in the global account; with them, in each
// account whose jetstream key enables it, with its limits, while the
// others (and $G) answer the API with 10039 (jetstream.Refuser). The
// system account has neither. A reload (apply again) starts JetStream in
// accounts that gained it or were added, stops it in accounts that lost
// it (their streams stay on disk) or were removed, and changes limits in
// place.
type jsRunner struct {
	cfg jetstream.Config
	svc *jetstream.Service
	srv *broker.Server
	log *zap.Logger

	mu       sync.Mutex
	units    map[string]*jsUnit    // by account
	accounts map[string]*jsAccount // the config's jetstream keys in force
	closed   bool
}

// jsUnit is what runs in one account: an engine or a refuser, on its
// internal client.
type jsUnit struct {
	ic      *broker.InternalClient
	engine  *jetstream.Engine
	refuser *jetstream.Refuser
	limits  jetstream.AccountLimits
	cluster *jetstream.Cluster     // on a clustered server (jetstream_cluster.go)
	cic     *broker.InternalClient // the cluster's, in the account
	sys     *broker.InternalClient // and in the system account
}

func (u *jsUnit) close() {
	if u.cluster != nil {
		u.cluster.Close()
		u.cic.Close()
		u.sys.Close()
	}
	if u.engine != nil {
		u.engine.Close()
	}
	if u.refuser != nil {
		u.refuser.Close()
	}
	u.ic.Close()
}

// startJetStream starts JetStream when it is enabled and records the
// runner in j (for reloads). svc learns the engines; stop closes them.
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
	// max_memory_store and max_file_store bound all accounts together.
	cfg.Server = &jetstream.ServerUsage{}
	svc.Enable(cfg)
	r := &jsRunner{cfg: cfg, svc: svc, srv: srv, log: log, units: map[string]*jsUnit{}}
	if err := r.apply(j); err != nil {
		r.close()
		return nil, err
	}
	j.run = r
	srv.OnAccountClaims(r.claimsChanged)
	log.Info("JetStream enabled", zap.String("store_dir", cfg.StoreDir), zap.Duration("sync_interval", orDefault(cfg.SyncInterval, 2*time.Minute)), zap.Int("accounts", len(svc.Accounts())))
	return r.close, nil
}

// apply makes what runs match j and the server's accounts.
func (r *jsRunner) apply(j *jsFlags) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accounts = j.accounts
	present := map[string]bool{}
	for _, acc := range r.srv.AccountNames() {
		present[acc] = true
		if err := r.applyAccount(acc); err != nil {
			return err
		}
	}
	for _, acc := range slices.Sorted(maps.Keys(r.units)) {
		if !present[acc] {
			r.stopUnit(acc)
		}
	}
	return nil
}

// want says what acc should run: an engine (true) with limits, a
// refuser (false), or nothing (ok false). In operator mode the account
// JWT's jetstream limits decide; with configured accounts, the account's
// jetstream key; else every account has JetStream.
func (r *jsRunner) want(acc string) (engine bool, limits jetstream.AccountLimits, ok bool) {
	limits = jetstream.NoLimits()
	auth := r.srv.Options().Auth
	if auth != nil && auth.Operator != nil {
		c, isJWT := r.srv.AccountJetStream(acc)
		if !isJWT {
			return false, limits, false // $G and accounts not resolved yet
		}
		if !c.Enabled && importsJetStreamAPI(r.srv.AccountImports(acc)) {
			return false, limits, false
		}
		return c.Enabled, claimLimits(c), true
	}
	ja := r.accounts[acc]
	if ja != nil {
		limits = ja.limits
	}
	if auth != nil && len(auth.Accounts) > 0 {
		if ja != nil && ja.enabled {
			return true, limits, true
		}
		// No JetStream of its own: a refuser, unless the account imports
		// another's API.
		return false, limits, !importsJetStreamAPI(r.srv.AccountImports(acc))
	}
	return true, limits, true
}

// claimLimits are an account JWT's limits as the engine's; a per-stream
// byte limit of 0 means none in the JWT, -1 in the account info.
func claimLimits(c broker.JetStreamClaims) jetstream.AccountLimits {
	none := func(n int64) int64 {
		if n == 0 {
			return -1
		}
		return n
	}
	c.MemoryMaxStream, c.StoreMaxStream = none(c.MemoryMaxStream), none(c.StoreMaxStream)
	return jetstream.AccountLimits{
		MaxMemory: c.MaxMemory, MaxStore: c.MaxStore, MaxStreams: int(c.MaxStreams), MaxConsumers: int(c.MaxConsumers),
		MaxAckPending: int(c.MaxAckPending), MemoryMaxStream: c.MemoryMaxStream, StoreMaxStream: c.StoreMaxStream,
		MaxBytesRequired: c.MaxBytesRequired, Tier: c.Tier,
	}
}

// claimsChanged applies an account JWT registered or replaced after the
// start (a login resolving it, a claims update).
func (r *jsRunner) claimsChanged(acc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || !slices.Contains(r.srv.AccountNames(), acc) { // never the system account
		return
	}
	if err := r.applyAccount(acc); err != nil {
		r.log.Error("JetStream for the account's new claims", zap.String("account", acc), zap.Error(err))
	}
}

// applyAccount makes what runs in acc match want. Caller holds r.mu.
func (r *jsRunner) applyAccount(acc string) error {
	wantEngine, limits, ok := r.want(acc)
	u := r.units[acc]
	switch {
	case !ok:
		r.stopUnit(acc)
		return nil
	case u != nil && wantEngine && u.engine != nil:
		if u.limits != limits {
			if err := u.engine.UpdateLimits(limits); err != nil {
				return err
			}
			u.limits = limits
			r.log.Info("JetStream limits changed", zap.String("account", acc))
		}
		return nil
	case u != nil && !wantEngine && u.refuser != nil:
		return nil
	case u != nil:
		r.stopUnit(acc)
	}
	return r.startUnit(acc, wantEngine, limits)
}

// startUnit starts an engine (or a refuser) in acc. Caller holds r.mu.
func (r *jsRunner) startUnit(acc string, engine bool, limits jetstream.AccountLimits) error {
	u := &jsUnit{limits: limits}
	var h broker.InternalHandler
	if engine {
		u.engine = jetstream.New(r.cfg, acc, r.log)
		u.engine.SetLimits(limits)
		h = u.engine.Handle
	} else {
		u.refuser = jetstream.NewRefuser()
		h = u.refuser.Handle
	}
	ic, err := r.srv.NewInternalClient(acc, h)
	if err != nil {
		return err
	}
	u.ic = ic
	if engine {
		err = r.startEngine(u, acc, ic)
	} else {
		err = u.refuser.Start(localConn{ic})
	}
	if err != nil {
		ic.Close()
		return err
	}
	r.units[acc] = u
	if engine {
		r.svc.Add(u.engine)
	}
	return nil
}

// stopUnit stops what runs in acc. Caller holds r.mu.
func (r *jsRunner) stopUnit(acc string) {
	u := r.units[acc]
	if u == nil {
		return
	}
	if u.engine != nil {
		r.svc.Remove(acc)
		r.log.Info("JetStream stopped in the account", zap.String("account", acc))
	}
	u.close()
	delete(r.units, acc)
}

// close stops every account's JetStream.
func (r *jsRunner) close() {
	r.srv.OnAccountClaims(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, acc := range slices.Sorted(maps.Keys(r.units)) {
		r.stopUnit(acc)
	}
}

// reloadJetStream applies a reloaded config's jetstream settings: the
// accounts' keys in place; turning JetStream on or off, or changing the
// jetstream block, needs a restart (logged, the running settings stay).
func reloadJetStream(cur, next *jsFlags, log *zap.Logger) {
	next.run = cur.run
	if next.enabled != cur.enabled || next.cfg != cur.cfg {
		log.Warn("reload: turning JetStream on or off, or changing the jetstream block, needs a restart; the running JetStream stays as it is")
		next.enabled, next.cfg = cur.enabled, cur.cfg
	}
	if next.run == nil {
		return
	}
	if err := next.run.apply(next); err != nil {
		log.Error("reload: JetStream accounts not fully applied", zap.Error(err))
	}
}
