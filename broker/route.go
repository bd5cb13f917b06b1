package broker

import (
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
)

// route is a connection to another broker of the cluster: the connection
// core (conn) speaking the route protocol (internal/proto RouteParser). It
// holds the remote broker's interest as subscriptions it owns, keyed by
// "subject queue", and gets each message at most once (one hop): see
// route_proto.go for the ops, docs/routes.md for the protocol.
type route struct {
	conn
	peer       *routeInfo // the remote broker
	solicited  bool       // we dialed
	compressed bool       // S2 on the wire
	peerURL    string     // where the peer can be dialed ("" if it did not say)

	// Reader-owned.
	parser      proto.RouteParser
	lastAcc     *account        // the account the last op named
	unknownAccs map[string]bool // accounts named that this broker lacks (logged once)

	subsMu sync.Mutex
	subs   map[string]remoteSub // by remoteKey(account, subject, queue)
}

func newRoute(s *Server, cid uint64, nc net.Conn, peer *routeInfo, solicited bool) *route {
	r := &route{peer: peer, solicited: solicited, subs: make(map[string]remoteSub), peerURL: peerRouteURL(peer, nc)}
	r.init(s, cid, nc, s.opts.Cluster.Listen.Transport.Name(), r)
	_, r.compressed = nc.(*s2Conn)
	r.log = s.log.With(zap.String("route", peer.Name), zap.Stringer("remote", nc.RemoteAddr()))
	return r
}

// protocol implementation.

func (r *route) parse(b []byte) error { return r.parser.Parse(b, r) }
func (r *route) reloaded(*Options)    {}

// closed drops the remote interest and unregisters the route.
func (r *route) closed() {
	r.subsMu.Lock()
	subs := r.subs
	r.subs = map[string]remoteSub{}
	r.subsMu.Unlock()
	for _, rs := range subs {
		rs.acc.mux.Unsubscribe(rs.sub)
		if li := r.srv.leafs.interest; li != nil {
			li.remote(rs.acc.name, rs.sub.Subject, rs.sub.Queue, r, 0)
		}
	}
	r.srv.routeDown(r)
}

// mux.Conn implementation (DeliverRouted is in route_proto.go, Flush in
// conn_out.go).

func (r *route) Kind() mux.Kind   { return mux.Route }
func (r *route) NoEcho() bool     { return false }
func (r *route) Expired(*mux.Sub) {}
func (r *route) numSubs() int {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	return len(r.subs)
}

// Deliver is never called for a route: the multiplexor sends a route
// each message once, with DeliverRouted.
func (r *route) Deliver(*mux.Sub, *mux.Msg) (needFlush, ok bool) { return false, false }

// RouteInfo describes one live route, for monitoring.
type RouteInfo struct {
	RID        uint64
	RemoteID   string
	RemoteName string
	Solicited  bool
	RemoteAddr string
	Start      time.Time
	Compressed bool
	InMsgs     int64
	OutMsgs    int64
	InBytes    int64
	OutBytes   int64
	NumSubs    int
	Pending    int
	RTT        time.Duration
}

// routeRegistered, when set by a test, is called once a new route is
// visible to other goroutines (in s.routes), before its goroutines start.
var routeRegistered func(*Server, *route)

// startRoute registers a handshaken route and starts its goroutines. It
// reports false (and closes conn) when a route to that peer already exists.
func (s *Server) startRoute(nc net.Conn, peer *routeInfo, solicited bool) bool {
	c := newRoute(s, s.nextID.Add(1), nc, peer, solicited)
	// The route's full interest is queued before the route is visible in
	// s.routes: a client's interest barrier that finds the route there
	// queues its PING after the interest, so the peer's PONG proves it
	// knows every subscription, the one just made included. (A change
	// made meanwhile reaches it through interest.changed, also before.)
	s.interest.addRoute(c)
	s.mu.Lock()
	if s.shutdown || !s.routeWantedLocked(peer.ID, solicited) {
		s.mu.Unlock()
		s.interest.removeRoute(c)
		nc.Close()
		return false
	}
	old := s.routes[peer.ID]
	s.routes[peer.ID] = c
	s.mu.Unlock()
	if routeRegistered != nil {
		routeRegistered(s, c)
	}
	if old != nil {
		// Both ends dialed at once: both keep the connection the lower id
		// dialed and close the other.
		old.close(DuplicateRoute)
	}
	s.log.Info("route up", zap.String("peer", peer.Name), zap.String("peer_id", peer.ID),
		zap.Bool("solicited", solicited), zap.Bool("compressed", c.compressed))
	s.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	s.notifyRoute(peer.ID, true)
	s.announceRoute(c)
	s.leafURLsChanged()
	return true
}

func (s *Server) notifyRoute(id string, up bool) {
	if up {
		// The new peer learns our counts of conn-limited accounts.
		for _, acc := range s.accountList() {
			if acc.active.Load() > 0 {
				s.accountConnsChanged(acc)
			}
		}
	} else {
		s.forgetServerConns(id)
	}
	s.mu.Lock()
	fn := s.routeEvents
	s.mu.Unlock()
	if fn != nil {
		fn(id, up)
	}
}

// routeWantedLocked reports whether a new route to peerID (dialed by us
// when solicited) should be kept: yes when none exists, or when the new one
// was dialed by the lower server id and the existing one was not. Both ends
// decide the same way, so simultaneous dials settle on one connection.
func (s *Server) routeWantedLocked(peerID string, solicited bool) bool {
	old := s.routes[peerID]
	if old == nil {
		return true
	}
	lowerDialed := func(solicited bool) bool { return solicited == (s.id < peerID) }
	return lowerDialed(solicited) && !lowerDialed(old.solicited)
}

// HasRoute reports whether a route to the broker with id is up.
func (s *Server) HasRoute(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routes[id] != nil
}

// routeDown unregisters a closed route (called from its teardown).
func (s *Server) routeDown(c *route) {
	s.interest.removeRoute(c)
	s.mu.Lock()
	if s.routes[c.peer.ID] == c {
		delete(s.routes, c.peer.ID)
	}
	s.retireLocked(&c.conn)
	s.mu.Unlock()
	s.log.Info("route down", zap.String("peer", c.peer.Name), zap.String("reason", c.closeReason().String()))
	s.notifyRoute(c.peer.ID, false)
	s.leafURLsChanged()
}

// CloseRoute closes the route to the broker with id, if any.
func (s *Server) CloseRoute(id string) {
	s.mu.Lock()
	c := s.routes[id]
	s.mu.Unlock()
	if c != nil {
		c.close(ServerShutdown)
	}
}

// Routes returns a snapshot of the live routes.
func (s *Server) Routes() []RouteInfo {
	s.mu.Lock()
	rs := slices.Collect(maps.Values(s.routes))
	s.mu.Unlock()
	out := make([]RouteInfo, 0, len(rs))
	for _, c := range rs {
		ci := c.snapshot()
		ci.NumSubs = c.numSubs()
		out = append(out, RouteInfo{
			RID: c.cid, RemoteID: c.peer.ID, RemoteName: c.peer.Name, Solicited: c.solicited,
			RemoteAddr: ci.RemoteAddr, Start: ci.Start, Compressed: c.compressed,
			InMsgs: ci.InMsgs, OutMsgs: ci.OutMsgs, InBytes: ci.InBytes, OutBytes: ci.OutBytes,
			NumSubs: ci.NumSubs, Pending: ci.PendingBytes, RTT: ci.RTT,
		})
	}
	return out
}

// NumRoutes is the number of live routes.
func (s *Server) NumRoutes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.routes)
}

// routeAcceptLoop accepts route connections; each handshake runs on its own
// goroutine so a slow peer cannot hold up the others.
func (s *Server) routeAcceptLoop(l *listener) {
	defer s.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return
			}
			s.log.Warn("route accept error", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go s.acceptRoute(conn)
	}
}
