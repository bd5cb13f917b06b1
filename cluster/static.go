package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
)

// Static keeps routes to configured addresses (nats-server's
// `cluster { routes: [...] }` and --routes), beside or instead of the
// brokers gossip finds: one goroutine per address dials it, waits while
// the route to the broker there is up, and dials again (with backoff up
// to 5 s) when it is not. A route that leads back to this broker is
// dropped from the list.
//
// It also keeps the implicit routes the broker learns of from its routes
// (Learn, as nats-server's): brokers its peers have routes to. Of each pair
// the lower server id dials at once and the higher after implicitGrace, so
// the two rarely cross; an implicit route that cannot be dialed is tried
// Retries more times (nats-server's cluster.connect_retries), then
// forgotten until a route names it again.
type Static struct {
	b      StaticBroker
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Retries is how many more dials an implicit route gets after a
	// failed one; set before the first Learn.
	Retries int

	mu      sync.Mutex
	ids     map[string]bool // brokers reached through a configured route
	learned map[string]bool // server ids of implicit routes being kept
	closed  bool
}

// StaticBroker is what Static needs of the broker (*broker.Server).
type StaticBroker interface {
	ID() string
	// DialRoute is ConnectRoute that also names the peer it reached.
	DialRoute(ctx context.Context, addr string) (string, error)
	RouteIDs() []string
}

// staticCheck is how often a standing route is looked at; staticMaxBackoff
// bounds the wait between failed dials.
const (
	staticCheck      = time.Second
	staticMaxBackoff = 5 * time.Second
	implicitGrace    = time.Second
)

// StartStatic starts keeping routes to addrs ("host:port"). Close stops it.
func StartStatic(b StaticBroker, addrs []string, log *zap.Logger) *Static {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Static{b: b, log: log.With(zap.String("component", "routes")), ctx: ctx, cancel: cancel,
		ids: map[string]bool{}, learned: map[string]bool{}}
	for _, a := range addrs {
		s.wg.Add(1)
		go s.keep(ctx, a)
	}
	return s
}

// Pinned reports whether id was reached through a configured route.
func (s *Static) Pinned(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// Close stops dialing and waits for the goroutines; routes stay up.
func (s *Static) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Learn is told of a broker (server id, route address) a route named
// (broker.Server.SetRouteLearner); it keeps an implicit route to it unless
// it already does. It does not block.
func (s *Static) Learn(id, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.learned[id] || s.ids[id] || id == s.b.ID() {
		return
	}
	s.learned[id] = true
	s.wg.Add(1)
	go s.keepLearned(s.ctx, id, url)
}

// keepLearned keeps the implicit route to the broker id at url while it
// can be had, and forgets it when it cannot.
func (s *Static) keepLearned(ctx context.Context, id, url string) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.learned, id)
		s.mu.Unlock()
	}()
	log := s.log.With(zap.String("route", url), zap.String("peer_id", id))
	if s.b.ID() > id && !sleepCtx(ctx, implicitGrace) {
		return // the lower id dials first; we dial if it has not
	}
	fails := 0
	for {
		if !slices.Contains(s.b.RouteIDs(), id) {
			got, err := s.b.DialRoute(ctx, url)
			switch {
			case errors.Is(err, broker.ErrShuttingDown), ctx.Err() != nil:
				return
			case got != "" && got != id:
				log.Info("implicit route leads to another broker; dropped", zap.String("reached", got))
				return
			case err == nil:
				log.Info("implicit route up")
				fails = 0
			case slices.Contains(s.b.RouteIDs(), id):
				fails = 0 // the peer's own dial won
			default:
				if fails++; fails > s.Retries {
					log.Info("implicit route not reachable; forgotten until a route names it again", zap.Error(err))
					return
				}
				log.Debug("implicit route not up", zap.Error(err))
			}
		}
		if !sleepCtx(ctx, staticCheck) {
			return
		}
	}
}

// sleepCtx waits d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Static) keep(ctx context.Context, addr string) {
	defer s.wg.Done()
	backoff := 50 * time.Millisecond
	var id string
	for {
		wait := staticCheck
		if id == "" || !slices.Contains(s.b.RouteIDs(), id) {
			got, err := s.b.DialRoute(ctx, addr)
			switch {
			case got == s.b.ID():
				s.log.Info("configured route leads back to this broker; dropped", zap.String("route", addr))
				return
			case got != "":
				id = got
				s.mu.Lock()
				s.ids[id] = true
				s.mu.Unlock()
			}
			switch {
			case err == nil:
				s.log.Info("configured route up", zap.String("route", addr), zap.String("peer_id", id))
				backoff = 50 * time.Millisecond
			case errors.Is(err, broker.ErrShuttingDown):
				return
			case got != "" && slices.Contains(s.b.RouteIDs(), got):
				// The peer's own dial won: the route is up.
			default:
				s.log.Debug("configured route not up", zap.String("route", addr), zap.Error(err))
				wait, backoff = backoff, min(backoff*2, staticMaxBackoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
