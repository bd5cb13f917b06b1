package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
	"github.com/murmurmq/murmur/transport"
)

// Reload applies new options to the running server without a restart:
// client listeners (host, port, transports: new ones are bound first, and
// a listener that goes away stops accepting while its connections stay
// up), limits, ping and write-deadline settings, authentication (a client
// whose credentials no longer pass is closed with 'Authorization
// Violation'; the others get their new permissions; leaves are checked
// again too, leaf_reload.go), the TLS certificate
// for new connections, route credential and lame-duck timings. The server
// name, turning TLS or clustering on or off, and the cluster name and
// listener need a restart: a change to them is refused, naming the field,
// and nothing is applied. So is a listener that cannot be bound.
func (s *Server) Reload(n Options) error {
	if err := n.Validate(); err != nil {
		return err
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.o()
	if err := reloadable(cur, &n); err != nil {
		return err
	}
	if err := s.reloadListeners(&n); err != nil {
		return err
	}
	n.Name, n.Logger = cur.Name, cur.Logger
	if n.Cluster != nil {
		c := *n.Cluster
		c.Listen = cur.Cluster.Listen
		n.Cluster = &c
	}
	st := compileAuth(n.Auth)
	s.mu.Lock()
	if st != nil {
		s.addAccountsLocked(st.accounts)
	}
	s.live.Store(&n)
	s.configTime.Store(time.Now().UnixNano())
	s.auth.Store(st)
	s.gen.Add(1)
	s.info.MaxPayload = n.MaxPayload
	s.info.AuthRequired = n.Auth.Required()
	clients := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	s.refreshImports()
	s.refreshMappings()
	s.prepareCallout(n.Auth)
	if sys := s.sys.Load(); sys != nil {
		if err := sys.syncAccounts(); err != nil {
			s.log.Warn("system imports for new accounts", zap.Error(err))
		}
	}
	revoked := 0
	for _, c := range clients {
		if !c.reauth(s.authFor(c.ln)) {
			revoked++
		}
	}
	s.log.Info("configuration reloaded", zap.Int("clients_closed_by_auth", revoked), zap.Int("leafs_closed_by_auth", s.leafsReauth()))
	return nil
}

// reloadable refuses changes that need a restart.
func reloadable(cur, n *Options) error {
	switch {
	case n.Name != "" && n.Name != cur.Name:
		return fmt.Errorf("server_name: cannot be changed by reload")
	case (n.TLS == nil) != (cur.TLS == nil):
		return fmt.Errorf("tls: turning TLS on or off needs a restart (certificates can be reloaded)")
	case n.Auth.systemAccount() != cur.Auth.systemAccount():
		return fmt.Errorf("system_account: cannot be changed by reload")
	case (n.Cluster == nil) != (cur.Cluster == nil):
		return fmt.Errorf("cluster: turning clustering on or off needs a restart")
	}
	if n.Cluster != nil && (n.Cluster.Name != cur.Cluster.Name || n.Cluster.Listen.Addr != cur.Cluster.Listen.Addr) {
		return fmt.Errorf("cluster.name / cluster.listen: cannot be changed by reload")
	}
	return leafReloadable(cur.LeafNode, n.LeafNode)
}

// reloadListeners makes the client listeners those n asks for. A listener
// asked for again (same transport and configured address) is kept, and n
// is pointed at its transport; new ones are bound before anything changes,
// so a bind error refuses the reload; the rest stop accepting, while the
// connections they accepted stay up (a QUIC listener keeps its UDP socket
// until its last connection ends).
func (s *Server) reloadListeners(n *Options) error {
	s.mu.Lock()
	started, cur := s.started, slices.Clone(s.listeners)
	s.mu.Unlock()
	if !started {
		return nil // Start binds what the options in force ask for
	}
	want := slices.Clone(n.clientListeners())
	next := make([]*listener, len(want))
	var add []Listener
	for i, w := range want {
		j := slices.IndexFunc(cur, func(l *listener) bool {
			return l != nil && l.transport == w.Transport.Name() && l.spec.Addr == w.Addr
		})
		if j < 0 {
			add = append(add, w)
			continue
		}
		next[i], cur[j] = cur[j], nil
		if u, ok := next[i].spec.Transport.(transport.Updater); ok && next[i].spec.Transport != w.Transport {
			if err := u.Update(w.Transport); err != nil {
				return fmt.Errorf("listeners[%d]: %w", i, err)
			}
		}
		want[i].Transport = next[i].spec.Transport
	}
	if len(n.Listeners) > 0 {
		n.Listeners = want
	}
	if len(add) == 0 && !slices.ContainsFunc(cur, func(l *listener) bool { return l != nil }) {
		s.mu.Lock()
		for i, l := range next {
			l.setSpec(want[i]) // a new advertise address
		}
		s.mu.Unlock()
		return nil // the same listeners
	}
	opened, err := openListeners(add)
	if err != nil {
		return err
	}
	k := 0
	for i := range next {
		if next[i] == nil {
			next[i] = opened[k]
			k++
		}
	}
	s.mu.Lock()
	if s.shutdown || s.info.LameDuckMode {
		s.mu.Unlock()
		for _, l := range opened {
			l.ln.Close()
		}
		return errors.New("listeners: not changed while shutting down or in lame-duck mode")
	}
	running := make(map[*listener]bool, len(s.listeners))
	for _, l := range s.listeners {
		running[l] = true
	}
	s.listeners = next
	for i, l := range next {
		l.setSpec(want[i])
		if !running[l] {
			s.log.Info("listening for clients", zap.String("transport", l.transport), zap.Stringer("addr", l.ln.Addr()))
			s.wg.Add(1)
			go s.acceptLoop(l)
		}
	}
	s.mu.Unlock()
	for _, l := range cur {
		if l != nil {
			s.log.Info("stopped listening for clients; its connections stay", zap.String("transport", l.transport), zap.Stringer("addr", l.ln.Addr()))
			l.ln.Close()
		}
	}
	return nil
}

// reauth re-checks an authenticated client against reloaded credentials.
// It reports false when the client was closed.
func (c *client) reauth(st *authState) bool {
	if !c.authed.Load() {
		return true // not yet authenticated: CONNECT will check
	}
	if c.viaCallout.Load() && st != nil {
		// The callout decided; a reload does not ask again. A user it
		// issued in operator mode still answers to its account's JWT.
		if uc := c.issued.Load(); uc != nil {
			if ac := c.acc.Load().claims.Load(); ac != nil && (ac.IsClaimRevoked(uc) || !ac.DidSign(uc)) {
				c.authFailed("callout-issued user revoked by its account's JWT")
				return false
			}
		}
		return true
	}
	if st == nil {
		c.perms.Store(nil)
		c.user.Store(nil)
		return true
	}
	c.mu.Lock()
	opts := c.opts
	c.mu.Unlock()
	u, err := st.check(&opts, c.nonce, c.remote)
	if err != nil {
		c.authFailed("credentials revoked by reload: " + err.Error())
		return false
	}
	account := GlobalAccount
	if u != nil {
		account = u.account
	}
	if account != c.acc.Load().name {
		c.authFailed("user moved to account " + strconv.Quote(account) + " by reload")
		return false
	}
	if u != nil {
		c.perms.Store(u.perms)
		c.user.Store(&u.name)
		if u.jwt != nil {
			c.setGrantLimits(u.jwt)
		}
	} else {
		c.perms.Store(nil)
		c.user.Store(nil)
	}
	c.recheckSubs()
	return true
}

// recheckSubs applies reloaded permissions to the subscriptions a client
// already has, as nats-server: one the rules no longer admit is removed
// and the client told `Permissions Violation for Subscription to "<subj>"
// (sid "<sid>")`. A wildcard one made before user authentication was on
// has no delivery-time filter: it is replaced in the index by an equal
// subscription that has one (messages published in the instant between
// the two are not delivered to it).
func (c *client) recheckSubs() {
	var removed []*mux.Sub
	var unfiltered []*mux.Sub
	filter := c.srv.auth.Load().hasUsers()
	acc := c.acc.Load()
	c.subsMu.Lock()
	for sid, s := range c.subs {
		switch {
		case !c.canSubscribe(s.Subject, s.Queue):
			delete(c.subs, sid)
			removed = append(removed, s)
		case filter && s.Filter == nil && pubsub.HasWildcard(s.Subject):
			unfiltered = append(unfiltered, s)
		}
	}
	for _, old := range unfiltered {
		if !acc.mux.Unsubscribe(old) {
			continue // it reached its auto-unsubscribe maximum meanwhile
		}
		left := 0
		if n := old.Max(); n > 0 {
			if left = n - int(old.Delivered()); left <= 0 {
				delete(c.subs, string(old.SID)) // done: it would have expired
				c.srv.localInterest(acc, old, -1)
				continue
			}
		}
		s := &mux.Sub{Subject: old.Subject, Queue: old.Queue, SID: old.SID, Owner: c, Filter: &subFilter{c: c}}
		if left > 0 {
			s.SetMax(left)
		}
		if acc.mux.Subscribe(s) != nil {
			delete(c.subs, string(old.SID))
			c.srv.localInterest(acc, old, -1)
			continue
		}
		c.subs[string(s.SID)] = s
	}
	c.subsMu.Unlock()
	for _, s := range removed {
		if acc.mux.Unsubscribe(s) {
			c.srv.localInterest(acc, s, -1)
		}
		c.log.Info("subscription removed by reload: not authorized", zap.String("subject", s.Subject), zap.ByteString("sid", s.SID))
		c.sendErr(fmt.Sprintf(proto.ErrTextPermSubReload, s.Subject, s.SID))
	}
}
