package cluster

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/gossip"
)

// reconciler holds the peer table and decides, from membership events and
// the broker's routes, which routes to dial and close and which
// connect_urls clients get. It reads no clock and starts no goroutine:
// events and the time are passed in, and dials go out through dial, so its
// decisions can be tested step by step against a fake Broker.
//
// Cluster.run calls apply, reconcile and pushConnectURLs, from one
// goroutine; dialed comes from the goroutines dial starts, and the
// broker.RouteObserver methods from the broker's handshake and route
// goroutines. No Broker method, nor dial, is called with mu held.
type reconciler struct {
	b    Broker
	self string // this broker's server id
	log  *zap.Logger
	// dial starts dialing peer id at its route address addr, and reports
	// the outcome to dialed. It must not block: reconcile calls it, from
	// the goroutine that calls reconcile.
	dial func(id, addr string)
	// kick asks for a reconcile soon; it must not block (RouteChanged
	// calls it from the broker's goroutines).
	kick func()

	mu      sync.Mutex
	peers   map[string]*peer     // alive members by broker id
	gone    map[string]time.Time // members gossip declared dead or left, and when
	unknown map[string]time.Time // routed brokers gossip has not shown us yet, since when
	own     []string             // this broker's client URLs (gossip metadata)
	lastURL string               // connect_urls last pushed, joined
	lastWS  string               // WebSocket connect_urls last pushed, joined
	// pinned, when set, names brokers routed through configured routes
	// (Static): never pruned for being unknown to gossip.
	pinned func(id string) bool
}

type peer struct {
	member  gossip.Member
	since   time.Time // first seen alive
	dialing bool
	next    time.Time // earliest next dial
	backoff time.Duration
}

func newReconciler(b Broker, self string, own []string, log *zap.Logger, dial func(id, addr string), kick func()) *reconciler {
	return &reconciler{
		b:       b,
		self:    self,
		log:     log,
		dial:    dial,
		kick:    kick,
		peers:   make(map[string]*peer),
		gone:    make(map[string]time.Time),
		unknown: make(map[string]time.Time),
		own:     slices.Clone(own),
	}
}

// apply records a membership event seen at now. A member that is dead or
// has left loses its route at once.
func (r *reconciler) apply(ev gossip.Event, now time.Time) {
	id := ev.Member.Meta.ID
	if id == "" || id == r.self {
		return
	}
	r.log.Debug("member event", zap.String("event", ev.Type.String()), zap.String("member", ev.Member.Name))
	r.mu.Lock()
	switch ev.Type {
	case gossip.EventJoin, gossip.EventUpdate:
		delete(r.gone, id)
		delete(r.unknown, id)
		if old := r.replacedLocked(id, ev.Member.Name, now); old != "" {
			r.mu.Unlock()
			r.log.Info("member restarted under a new server id, pruning the old one's route",
				zap.String("member", ev.Member.Name), zap.String("old_id", old), zap.String("id", id))
			r.b.CloseRoute(old)
			r.mu.Lock()
		}
		p := r.peers[id]
		if p == nil {
			p = &peer{since: now}
			r.peers[id] = p
			r.log.Info("member joined", zap.String("member", ev.Member.Name), zap.String("route", ev.Member.Meta.RouteURL))
		}
		p.member = ev.Member
	case gossip.EventLeave, gossip.EventDead:
		delete(r.peers, id)
		r.gone[id] = now
		r.mu.Unlock()
		r.log.Info("member gone, pruning its route", zap.String("member", ev.Member.Name), zap.String("event", ev.Type.String()))
		r.b.CloseRoute(id)
		return
	}
	r.mu.Unlock()
}

// replacedLocked forgets the peer that carried member name under another
// broker id: the broker restarted (a new server id) and took over its
// gossip entry, possibly before the old process was declared dead, so no
// Dead event will come for the old id. It returns that id, or "".
func (r *reconciler) replacedLocked(id, name string, now time.Time) string {
	for oid, p := range r.peers {
		if oid != id && p.member.Name == name {
			delete(r.peers, oid)
			r.gone[oid] = now
			return oid
		}
	}
	return ""
}

// reconcile closes routes to brokers that are not live members (at once
// for dead or departed ones, after unknownGrace for ones gossip never
// showed), and dials every live peer this broker should have a route to
// and does not. It returns how long until the earliest DialGrace still
// running ends (0: none), when reconcile should run again.
func (r *reconciler) reconcile(now time.Time) (wake time.Duration) {
	routed := r.b.RouteIDs()
	var prune []string
	r.mu.Lock()
	for _, id := range routed {
		if r.peers[id] != nil {
			continue
		}
		if _, dead := r.gone[id]; dead {
			prune = append(prune, id)
			continue
		}
		if r.pinned != nil && r.pinned(id) {
			continue // a configured route's broker
		}
		if since, ok := r.unknown[id]; !ok {
			r.unknown[id] = now
		} else if now.Sub(since) > unknownGrace {
			delete(r.unknown, id)
			prune = append(prune, id)
		}
	}
	for id := range r.unknown {
		if !slices.Contains(routed, id) {
			delete(r.unknown, id) // its route went down: a new one gets a new grace
		}
	}
	for id, at := range r.gone {
		if now.Sub(at) > goneRetention {
			delete(r.gone, id)
		}
	}
	type dial struct{ id, addr string }
	var dials []dial
	for id, p := range r.peers {
		if p.dialing || now.Before(p.next) || slices.Contains(routed, id) {
			continue
		}
		if left := DialGrace - now.Sub(p.since); r.self > id && left > 0 {
			if wake == 0 || left < wake {
				wake = left
			}
			continue // the lower id dials
		}
		addr, err := routeAddr(p.member.Meta.RouteURL)
		if err != nil {
			r.log.Warn("member has a bad route URL", zap.String("member", p.member.Name), zap.Error(err))
			p.next = now.Add(maxBackoff)
			continue
		}
		p.dialing = true
		dials = append(dials, dial{id, addr})
	}
	r.mu.Unlock()
	for _, id := range prune {
		r.log.Info("closing route to a broker that is not a live member", zap.String("peer_id", id))
		r.b.CloseRoute(id)
	}
	sort.Slice(dials, func(i, j int) bool { return dials[i].id < dials[j].id })
	for _, d := range dials {
		r.dial(d.id, d.addr)
	}
	return wake
}

// dialed records, at now, the outcome of a dial to peer id that reconcile
// started: err from ConnectRoute, and whether a route to id is up after it
// (a failed dial may have lost to the peer's crossing dial). A failed dial
// with no route backs off, doubling up to maxBackoff; a route resets that.
func (r *reconciler) dialed(id string, routed bool, err error, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[id]
	if p == nil {
		return
	}
	p.dialing = false
	if err == nil || routed {
		p.backoff = 0
		return
	}
	p.backoff = min(max(2*p.backoff, minBackoff), maxBackoff)
	p.next = now.Add(p.backoff)
	r.log.Debug("route dial failed", zap.String("peer", p.member.Name), zap.Error(err), zap.Duration("retry_in", p.backoff))
}

// setOwnURLs replaces this broker's client URLs (after a reload moved its
// listeners); the next pushConnectURLs lists them.
func (r *reconciler) setOwnURLs(urls []string) {
	r.mu.Lock()
	r.own = slices.Clone(urls)
	r.mu.Unlock()
}

// pushConnectURLs sends clients, when it changed, the connect_urls they
// may fail over to: this broker's own client URLs, and those of every live
// member this broker has a route to. A member gossip shows alive but with
// no route is left out: its route was refused (a wrong route credential)
// or is not up yet, and a client that moved to it would be cut off from the
// rest of the cluster. Our own URLs are always listed because nats.go
// prunes withdrawn servers only from a non-empty connect_urls.
//
// Only one goroutine may call it (Cluster.run), so pushes reach the broker
// in order.
func (r *reconciler) pushConnectURLs() {
	routed := r.b.RouteIDs()
	r.mu.Lock()
	urls := appendConnectURLs(nil, r.own, "nats://")
	ws := appendConnectURLs(appendConnectURLs(nil, r.own, "ws://"), r.own, "wss://")
	for _, id := range routed {
		if p := r.peers[id]; p != nil {
			urls = appendConnectURLs(urls, p.member.Meta.ClientURLs, "nats://")
			ws = appendConnectURLs(ws, p.member.Meta.ClientURLs, "ws://")
			ws = appendConnectURLs(ws, p.member.Meta.ClientURLs, "wss://")
		}
	}
	urls, ws = sortedSet(urls), sortedSet(ws)
	joined, wsJoined := strings.Join(urls, " "), strings.Join(ws, " ")
	changed, wsChanged := joined != r.lastURL, wsJoined != r.lastWS
	r.lastURL, r.lastWS = joined, wsJoined
	r.mu.Unlock()
	if changed {
		r.b.SetConnectURLs(urls)
	}
	if wsChanged {
		r.b.SetWebSocketConnectURLs(ws)
	}
}

func sortedSet(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// appendConnectURLs appends the host:port of each URL in clientURLs with
// the given scheme prefix: nats.go reads connect_urls as plain host:port of
// NATS/TCP listeners, and nats.ws and nats.js read WebSocket clients'
// connect_urls as host:port of WebSocket listeners (nats-server's
// ws_connect_urls), so each list holds one kind only.
func appendConnectURLs(urls, clientURLs []string, prefix string) []string {
	for _, u := range clientURLs {
		if hp, ok := strings.CutPrefix(u, prefix); ok {
			urls = append(urls, hp)
		}
	}
	return urls
}

// AdmitRoute is the route admission check (broker.RouteObserver): a broker
// gossip declared dead or gone is refused; one gossip has not shown us yet
// is admitted (it passed the cluster name and credential checks, and has
// likely just joined), and pruned by reconcile if gossip never confirms
// it.
func (r *reconciler) AdmitRoute(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, dead := r.gone[id]
	return !dead
}

// RouteChanged (broker.RouteObserver) asks for a reconcile, which also
// pushes connect_urls, so clients hear of a route going up or down at once.
func (r *reconciler) RouteChanged(string, bool) {
	if r.kick != nil {
		r.kick()
	}
}

// routeAddr turns "tcp://host:port" into "host:port".
func routeAddr(routeURL string) (string, error) {
	u, err := url.Parse(routeURL)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host in %q", routeURL)
	}
	return u.Host, nil
}
