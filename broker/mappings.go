package broker

import (
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/transform"
)

// Subject mappings, as nats-server's: a message a client publishes on a
// subject an account maps goes on the mapped subject instead, before the
// publish permission is checked and subscriptions are matched, so
// subscribers and routes see only the mapped subject. Messages that
// arrive over routes were mapped by the broker they were published on.
// A service request that enters the exporting account through an import
// takes that account's mappings too. The transforms, weights and
// cluster-scoped destinations are package transform's; here they are
// installed per account (account.mappings), from the configuration
// (Options.Mappings for $G, Account.Mappings) or the account JWT.

// Mapping is one subject mapping of an account: messages published on
// subjects matching Source go to one of Dests, each chosen for its
// weight's share of them (transform.NewMapping says what the weights
// leave). It is one entry of nats-server's `mappings` block.
type Mapping struct {
	Source string
	Dests  []transform.Dest
}

// compileMappings checks ms and returns them as one broker of cluster
// applies them (nil for none).
func compileMappings(ms []Mapping, cluster string) (*transform.Table, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	out := make([]*transform.Mapping, 0, len(ms))
	for _, m := range ms {
		tm, err := transform.NewMapping(m.Source, m.Dests...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Source, err)
		}
		out = append(out, tm)
	}
	return transform.NewTable(cluster, out...), nil
}

// validateMappings checks the mappings of $G and of every account.
func (o *Options) validateMappings() error {
	if _, err := compileMappings(o.Mappings, ""); err != nil {
		return fmt.Errorf("mappings.%w", err)
	}
	if o.Auth == nil {
		return nil
	}
	for _, a := range o.Auth.Accounts {
		if _, err := compileMappings(a.Mappings, ""); err != nil {
			return fmt.Errorf("accounts.%s.mappings.%w", a.Name, err)
		}
	}
	return nil
}

// clusterName is the cluster this broker is in ("" for none): the one
// cluster-scoped destinations name.
func (o *Options) clusterName() string {
	if o.Cluster == nil {
		return ""
	}
	return o.Cluster.Name
}

// refreshMappings installs the configured mappings of every account
// (each account's table is swapped at once), leaving JWT accounts, whose
// mappings come with their claims (installClaimMappings).
func (s *Server) refreshMappings() {
	o := s.o()
	conf := map[string][]Mapping{GlobalAccount: o.Mappings}
	if o.Auth != nil {
		for _, a := range o.Auth.Accounts {
			conf[a.Name] = a.Mappings
		}
	}
	for _, acc := range s.accountList() {
		t, err := compileMappings(conf[acc.name], o.clusterName())
		if err != nil { // validated: cannot happen
			s.log.Error("mappings not installed", zap.String("account", acc.name), zap.Error(err))
			continue
		}
		acc.mappingsMu.Lock()
		if acc.claims.Load() == nil {
			acc.mappings.Store(t)
		}
		acc.mappingsMu.Unlock()
	}
}

// installClaimMappings installs the mappings of acc's account JWT (the
// one it holds now: a newer one may have replaced the caller's). As in
// nats-server, a mapping the claims get wrong is skipped (logged), not
// the account, and a weight of 0 means 100.
func (s *Server) installClaimMappings(acc *account) {
	acc.mappingsMu.Lock()
	defer acc.mappingsMu.Unlock()
	ac := acc.claims.Load()
	var ms []*transform.Mapping
	// In the order of their sources: nats-server tries overlapping
	// ones in no set order.
	for _, src := range slices.Sorted(maps.Keys(ac.Mappings)) {
		wms := ac.Mappings[src]
		dests := make([]transform.Dest, len(wms))
		for i, wm := range wms {
			dests[i] = transform.Dest{Subject: string(wm.Subject), Weight: wm.GetWeight(), Cluster: wm.Cluster}
		}
		m, err := transform.NewMapping(string(src), dests...)
		if err != nil {
			s.log.Warn("JWT mapping skipped", zap.String("account", acc.name), zap.String("subject", string(src)), zap.Error(err))
			continue
		}
		ms = append(ms, m)
	}
	acc.mappings.Store(transform.NewTable(s.o().clusterName(), ms...))
}

// traceMapping logs a mapped publish as nats-server's trace does
// ("MAPPING orig -> mapped").
func (s *Server) traceMapping(c *client, from, to []byte) {
	if c.trace {
		c.traceIn("MAPPING", joinArgs(from, []byte("->"), to))
	}
}

// mapSubject is the subject a message published in acc on subject goes
// to, written into buf (reused message to message by one reader); ok is
// false when no mapping applies, and the subject is empty when the
// mapping dropped the message. One atomic load when acc maps nothing.
func (acc *account) mapSubject(buf *[]byte, subject []byte) (mapped []byte, ok bool) {
	t := acc.mappings.Load()
	if t == nil {
		return subject, false
	}
	out, ok := t.Map((*buf)[:0], subject)
	if !ok {
		return subject, false
	}
	*buf = out
	return out, true
}
