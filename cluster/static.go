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
type Static struct {
	b      StaticBroker
	log    *zap.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	ids map[string]bool // brokers reached through a configured route
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
)

// StartStatic starts keeping routes to addrs ("host:port"). Close stops it.
func StartStatic(b StaticBroker, addrs []string, log *zap.Logger) *Static {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Static{b: b, log: log.With(zap.String("component", "routes")), cancel: cancel, ids: map[string]bool{}}
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
	s.cancel()
	s.wg.Wait()
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
