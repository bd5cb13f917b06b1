package broker

import (
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// Reload applies new options to the running server without a restart:
// limits, ping and write-deadline settings, authentication (a client whose
// credentials no longer pass is closed with 'Authorization Violation'; the
// others get their new permissions), the TLS certificate for new
// connections, route credential and lame-duck timings. Listener addresses,
// the server name and the cluster name and listener need a restart: a
// change to them is refused, naming the field, and nothing is applied.
func (s *Server) Reload(n Options) error {
	if err := n.Validate(); err != nil {
		return err
	}
	cur := s.o()
	if err := reloadable(cur, &n); err != nil {
		return err
	}
	// Keep what the running listeners were built from.
	n.Name, n.Host, n.Port, n.Listeners, n.Logger = cur.Name, cur.Host, cur.Port, cur.Listeners, cur.Logger
	if n.Cluster != nil {
		c := *n.Cluster
		c.Listen = cur.Cluster.Listen
		n.Cluster = &c
	}
	st := compileAuth(n.Auth)
	s.mu.Lock()
	s.live.Store(&n)
	s.auth.Store(st)
	s.gen.Add(1)
	s.info.MaxPayload = n.MaxPayload
	s.info.AuthRequired = n.Auth.Required()
	clients := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	revoked := 0
	for _, c := range clients {
		if !c.reauth(st) {
			revoked++
		}
	}
	s.log.Info("configuration reloaded", zap.Int("clients_closed_by_auth", revoked))
	return nil
}

// reloadable refuses changes that need a restart.
func reloadable(cur, n *Options) error {
	switch {
	case n.Name != "" && n.Name != cur.Name:
		return fmt.Errorf("server_name: cannot be changed by reload")
	case n.Host != cur.Host:
		return fmt.Errorf("host: cannot be changed by reload")
	case n.Port != cur.Port:
		return fmt.Errorf("port: cannot be changed by reload")
	case (n.TLS == nil) != (cur.TLS == nil):
		return fmt.Errorf("tls: turning TLS on or off needs a restart (certificates can be reloaded)")
	case (n.Cluster == nil) != (cur.Cluster == nil):
		return fmt.Errorf("cluster: turning clustering on or off needs a restart")
	}
	if len(n.Listeners) != len(cur.Listeners) {
		return fmt.Errorf("listeners: cannot be changed by reload")
	}
	for i := range n.Listeners {
		if n.Listeners[i].Addr != cur.Listeners[i].Addr || n.Listeners[i].Transport.Name() != cur.Listeners[i].Transport.Name() {
			return fmt.Errorf("listeners[%d] (%s): cannot be changed by reload", i, n.Listeners[i].Addr)
		}
	}
	if n.Cluster != nil && (n.Cluster.Name != cur.Cluster.Name || n.Cluster.Listen.Addr != cur.Cluster.Listen.Addr) {
		return fmt.Errorf("cluster.name / cluster.listen: cannot be changed by reload")
	}
	return nil
}

// reauth re-checks an authenticated client against reloaded credentials.
// It reports false when the client was closed.
func (c *client) reauth(st *authState) bool {
	if c.kind != mux.Client || !c.authed.Load() {
		return true // routes; or not yet authenticated (CONNECT will check)
	}
	if st == nil {
		c.perms.Store(nil)
		return true
	}
	c.mu.Lock()
	opts := c.opts
	c.mu.Unlock()
	u, ok := st.check(&opts)
	if !ok {
		c.authFailed("credentials revoked by reload")
		return false
	}
	if u != nil {
		c.perms.Store(u.perms)
	} else {
		c.perms.Store(nil)
	}
	return true
}

// refreshLimits picks up reloaded limits on the reader, between reads.
func (c *client) refreshLimits() {
	gen := c.srv.gen.Load()
	if gen == c.gen {
		return
	}
	c.gen = gen
	o := c.srv.o()
	c.parser.MaxControlLine, c.parser.MaxPayload = o.MaxControlLine, o.MaxPayload
	c.mu.Lock()
	c.out.maxPending = o.MaxPending
	c.mu.Unlock()
}
