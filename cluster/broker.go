package cluster

import (
	"context"

	"github.com/murmurmq/murmur/broker"
)

// Broker is the broker as the cluster layer drives its routes: the whole
// seam between this package and package broker once Start has run.
// *broker.Server satisfies it; the reconciler's tests use a fake.
//
// What does not change while the cluster runs is read from the
// *broker.Server by Start, not through Broker: the server id and name, the
// cluster options, the route listener's address and the logger, and, for
// the gossip metadata, the client URLs (read again by RefreshMeta).
//
// Locking: the broker calls back into the cluster (broker.RouteObserver)
// from inside ConnectRoute and from its route goroutines, and those calls
// take the cluster's lock, so the cluster never calls a Broker method while
// holding its own lock; a Broker must not call the observer while holding
// a lock its own methods take.
type Broker interface {
	// SetRouteObserver registers o to approve route peers and hear of
	// routes going up and down (see broker.RouteObserver for when and on
	// which goroutine). Start calls it once, before the first dial. It
	// does not block.
	SetRouteObserver(o broker.RouteObserver)

	// RouteIDs returns the server ids of the peers with a route up now, in
	// no particular order: a snapshot, which a route going up or down may
	// make stale at once (RouteChanged says so). It does not block beyond
	// the broker's lock, held briefly; any goroutine may call it. Once the
	// broker has closed it returns none.
	RouteIDs() []string

	// ConnectRoute dials a peer's route address addr ("host:port", with
	// the transport of the broker's route listener) and runs the route
	// handshake. It blocks until the route is up (nil) or has failed: for
	// at most the dial plus the broker's route handshake timeout, and less
	// when ctx is done first. The handshake consults the observer on the
	// calling goroutine before ConnectRoute returns (AdmitRoute, then
	// RouteChanged up). An error does not mean there is no route to that
	// peer: one may already be up, or the peer's crossing dial may have won
	// the handshake; read RouteIDs. Once the broker is closing it fails at
	// once (broker.ErrShuttingDown). Any goroutine may call it, several at
	// once.
	ConnectRoute(ctx context.Context, addr string) error

	// CloseRoute starts closing the route to the peer with server id id, if
	// one is up, and returns without waiting for it to go down (the
	// observer hears of that). Without such a route, or once the broker has
	// closed, it does nothing. Any goroutine may call it.
	CloseRoute(id string)

	// SetConnectURLs replaces the client URLs ("host:port") the broker
	// advertises in INFO connect_urls, and queues an INFO carrying them to
	// every connected client; it does not wait for them to be written.
	// Calls take effect in the order they are made: the cluster makes them
	// from one goroutine. Once the broker has closed it has no effect
	// clients can see.
	SetConnectURLs(urls []string)
	// SetWebSocketConnectURLs is SetConnectURLs for the connect_urls sent
	// to WebSocket clients (the host:port of ws:// and wss:// URLs).
	SetWebSocketConnectURLs(urls []string)
}

var _ Broker = (*broker.Server)(nil)
