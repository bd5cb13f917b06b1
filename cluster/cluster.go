// Package cluster joins a broker to its peers: gossip (package gossip, on
// hashicorp/memberlist) finds the members, and this package keeps one route
// to each live member, closes routes to dead ones, and keeps clients' INFO
// connect_urls current: they list only brokers this one has a live,
// authenticated route to (see reconciler.pushConnectURLs).
//
// Who dials: of each pair, the broker with the lower server id, as soon as
// it sees the other alive in gossip, so each pair has one route connection.
// The higher id dials too only if no route has appeared after DialGrace
// (the lower one cannot reach it, or has not heard of it yet); if both dials
// cross, the route handshake keeps the connection the lower id dialed, on
// both ends, and closes the other. A broker refuses routes from brokers
// gossip declared dead or gone, and closes routes to brokers gossip does
// not confirm as members within a few seconds.
//
// The broker's side of the seam is the Broker interface (route operations)
// and broker.RouteObserver (the broker consulting and informing this
// package); the decisions are the reconciler's (reconcile.go), which takes
// events and the time as arguments and is tested without gossip or
// sockets.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/gossip"
)

// Timings of the route reconciler.
const (
	// DialGrace is how long the higher-id side waits for the lower-id side
	// to dial before dialing itself. It is short: a broker that has just
	// joined learns every member at once from its seed, while they hear of
	// it a gossip round or two later, so the newcomer dialing after the
	// grace is what brings a new broker into the mesh quickly. Dials that
	// cross are settled by the route handshake.
	DialGrace = 50 * time.Millisecond
	// reconcileEvery re-checks routes even without membership events.
	reconcileEvery = 250 * time.Millisecond
	minBackoff     = 50 * time.Millisecond
	// unknownGrace is how long a route may stay up to a broker gossip has
	// not shown us (it should within a few gossip rounds).
	unknownGrace = 5 * time.Second
	// goneRetention is how long a dead or departed member stays refused
	// (unless gossip sees it alive again first).
	goneRetention = 10 * time.Minute
	maxBackoff    = 5 * time.Second
)

// Cluster runs gossip for one broker and keeps its route mesh.
type Cluster struct {
	b   Broker
	r   *reconciler
	g   *gossip.Gossip
	log *zap.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	// graceTimer wakes the reconciler when the earliest pending DialGrace
	// ends, rather than at the next periodic check (owned by run).
	graceTimer *time.Timer

	mu     sync.Mutex
	cfg    gossip.Config // as started, then as reloaded
	closed bool

	// meta builds this broker's gossip metadata for the advertised host
	// metaHost, from the broker's current listeners.
	meta     func(host string) gossip.Meta
	metaHost string
}

// reclaimDeadName is how long a member must have been dead before a
// broker of the same name at another address may take its place (a pod
// rescheduled to a new IP). A live member's name is never taken: two
// brokers with one name conflict and the newcomer is ignored (logged).
const reclaimDeadName = time.Millisecond

// Start joins srv (already started, with broker.Options.Cluster set) to the
// cluster described by cfg. The gossip metadata (id, route URL, client
// URLs) is filled in from srv; cfg.Cluster is set to the broker's cluster
// name. From then on the cluster drives srv's routes through the Broker
// interface only, and registers itself as srv's broker.RouteObserver.
func Start(srv *broker.Server, cfg gossip.Config) (*Cluster, error) {
	co := srv.Options().Cluster
	if co == nil {
		return nil, errors.New("cluster: the broker has no cluster options")
	}
	routeAddr := srv.RouteAddr()
	if routeAddr == nil {
		return nil, errors.New("cluster: the broker is not started")
	}
	cfg.Cluster = co.Name
	if cfg.Name == "" {
		// The server name (the server id when none is configured) is the
		// member's name, so a broker restarted under the same name takes
		// over its former entry instead of leaving a dead one behind.
		cfg.Name = srv.Name()
	}
	if cfg.Timing.DeadNodeReclaimTime == 0 {
		cfg.Timing.DeadNodeReclaimTime = reclaimDeadName
	}
	if cfg.Logger == nil {
		cfg.Logger = srv.Logger()
	}
	meta := func(host string) gossip.Meta {
		adv := co.Advertise
		if adv == "" {
			_, port, _ := net.SplitHostPort(routeAddr.String())
			adv = net.JoinHostPort(host, port)
		}
		m := gossip.Meta{
			ID:       srv.ID(),
			Name:     srv.Name(),
			Version:  broker.Version,
			Cluster:  co.Name,
			RouteURL: co.Listen.Transport.Name() + "://" + adv,
		}
		if !co.NoAdvertise { // else other brokers do not advertise this one to their clients
			m.ClientURLs = srv.ClientURLs(host)
		}
		return m
	}
	host, known := advertiseHost(cfg)
	cfg.Meta = meta(host)
	g, err := gossip.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if !known {
		// Bound to all interfaces with no advertise address: use the
		// address gossip picked to advertise (a private IP), so peers on
		// other hosts can reach our routes and clients.
		if h, _, err := net.SplitHostPort(g.AdvertiseAddr()); err == nil && h != host {
			host = h
			cfg.Meta = meta(h)
			if err := g.UpdateMeta(cfg.Meta); err != nil {
				g.Close()
				return nil, fmt.Errorf("cluster: %w", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		b:      srv,
		g:      g,
		cfg:    cfg,
		log:    cfg.Logger.With(zap.String("component", "cluster")),
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
		graceTimer: func() *time.Timer {
			t := time.NewTimer(time.Hour)
			t.Stop()
			return t
		}(),
		meta:     meta,
		metaHost: host,
	}
	c.r = newReconciler(c.b, srv.ID(), cfg.Meta.ClientURLs, c.log, c.dial, c.poke)
	c.b.SetRouteObserver(c.r)
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// advertiseHost is the host peers and clients should use for this broker,
// and whether the configuration said so (false: bound to all interfaces).
func advertiseHost(cfg gossip.Config) (string, bool) {
	for _, h := range []string{cfg.AdvertiseAddr, cfg.BindAddr} {
		if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) {
			return h, true
		}
	}
	return "127.0.0.1", false
}

// Gossip is the underlying gossip node (members, keys, seeds).
func (c *Cluster) Gossip() *gossip.Gossip { return c.g }

// Members is the gossip view, for monitoring.
func (c *Cluster) Members() []gossip.Member { return c.g.Members() }

func (c *Cluster) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run drives the reconciler: it applies membership events and reconciles
// routes until Close.
func (c *Cluster) run() {
	defer c.wg.Done()
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	defer c.graceTimer.Stop()
	c.r.pushConnectURLs() // our own URLs, before any route is up
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev, ok := <-c.g.Events():
			if !ok {
				return
			}
			c.r.apply(ev, time.Now())
		case <-c.kick:
		case <-c.graceTimer.C:
		case <-t.C:
		}
		if wake := c.r.reconcile(time.Now()); wake > 0 {
			c.graceTimer.Reset(wake)
		}
		// After every event, route change (RouteChanged kicks) and
		// periodic check, so clients hear of a route going up or down at
		// once; pushing only from here keeps the pushes in order.
		c.r.pushConnectURLs()
	}
}

// dial is the reconciler's dial: it opens a route to peer id on a
// goroutine of its own, then reports the outcome. reconcile calls it from
// run, which wg counts, so the wg.Add cannot race Close's wg.Wait.
func (c *Cluster) dial(id, addr string) {
	if c.ctx.Err() != nil {
		return // closed
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := c.b.ConnectRoute(c.ctx, addr)
		routed := err == nil || slices.Contains(c.b.RouteIDs(), id)
		c.r.dialed(id, routed, err, time.Now())
	}()
}

// Reload applies the reloadable half of a new gossip configuration: the
// seed list and the encryption keys (SecretKey becomes the primary,
// ExtraKeys stay accepted, other keys are dropped). The bind and advertise
// addresses and the profile need a restart; a change to them is refused. The cluster name is
// the broker's (broker.Server.Reload refuses changing it); cfg.Cluster is
// ignored.
func (c *Cluster) Reload(cfg gossip.Config) error {
	c.mu.Lock()
	cur := c.cfg
	c.mu.Unlock()
	switch {
	case cfg.BindAddr != cur.BindAddr || (cfg.BindPort != cur.BindPort && cfg.BindPort != c.g.Port()):
		return errors.New("gossip.listen: cannot be changed by reload")
	case cfg.Profile != cur.Profile:
		return errors.New("gossip.profile: cannot be changed by reload")
	case cfg.AdvertiseAddr != cur.AdvertiseAddr || cfg.AdvertisePort != cur.AdvertisePort:
		// memberlist fixes a member's address when it joins.
		return errors.New("gossip.advertise: cannot be changed by reload")
	case (cfg.SecretKey == "") != (cur.SecretKey == ""):
		return errors.New("gossip.key: turning encryption on or off needs a restart")
	}
	if err := c.g.SetSeeds(cfg.Seeds); err != nil {
		return err
	}
	if cfg.SecretKey != "" {
		primary, err := gossip.DecodeKey(cfg.SecretKey)
		if err != nil {
			return fmt.Errorf("gossip.key: %w", err)
		}
		var extra [][]byte
		for i, k := range cfg.ExtraKeys {
			raw, err := gossip.DecodeKey(k)
			if err != nil {
				return fmt.Errorf("gossip.extra_keys[%d]: %w", i, err)
			}
			extra = append(extra, raw)
		}
		if err := c.g.SetKeys(primary, extra); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.cfg.Seeds, c.cfg.SecretKey, c.cfg.ExtraKeys = cfg.Seeds, cfg.SecretKey, cfg.ExtraKeys
	c.mu.Unlock()
	c.log.Info("gossip configuration reloaded", zap.Int("seeds", len(cfg.Seeds)), zap.Int("keys", 1+len(cfg.ExtraKeys)))
	return nil
}

// RefreshMeta re-reads the broker's client URLs (after a reload moved its
// listeners) and, when they changed, gossips the new metadata, so other
// brokers update the connect_urls they give their clients.
func (c *Cluster) RefreshMeta() error {
	m := c.meta(c.metaHost)
	c.mu.Lock()
	same := slices.Equal(m.ClientURLs, c.cfg.Meta.ClientURLs)
	c.mu.Unlock()
	if same {
		return nil
	}
	if err := c.g.UpdateMeta(m); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.mu.Lock()
	c.cfg.Meta = m
	c.mu.Unlock()
	c.r.setOwnURLs(m.ClientURLs)
	c.poke() // our own entries in connect_urls moved too
	c.log.Info("client URLs changed; gossiping them", zap.Strings("client_urls", m.ClientURLs))
	return nil
}

// Leave announces a graceful departure to the other members, then stops
// as Close does.
func (c *Cluster) Leave(timeout time.Duration) error {
	err := c.g.Leave(timeout)
	return errors.Join(err, c.Close())
}

// Close stops gossip (without a graceful leave: others will see this broker
// as dead) and the reconciler, and waits for their goroutines. Routes stay
// open until the broker closes them.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	err := c.g.Close()
	c.wg.Wait()
	return err
}

// PinRoutes tells the cluster which routed brokers came through
// configured routes (Static.Pinned), so it keeps their routes though
// gossip does not know them. Call it once, right after Start.
func (c *Cluster) PinRoutes(pinned func(id string) bool) {
	c.r.mu.Lock()
	c.r.pinned = pinned
	c.r.mu.Unlock()
}
