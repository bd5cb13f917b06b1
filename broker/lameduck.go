package broker

import (
	"context"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Lame-duck defaults, as nats-server's.
const (
	DefaultLameDuckDuration    = 2 * time.Minute
	DefaultLameDuckGracePeriod = 10 * time.Second
)

// LameDuck takes the server out of service gently: it stops accepting
// clients, tells the connected ones through INFO ldm:true (nats.go fires its
// LameDuckModeHandler and can move elsewhere), waits the grace period, then
// closes the remaining clients evenly over the lame-duck duration, and
// finally closes the server. ctx cuts the waits short.
func (s *Server) LameDuck(ctx context.Context) error {
	o := s.o()
	grace, window := o.LameDuck.GracePeriod, o.LameDuck.Duration
	if grace <= 0 {
		grace = DefaultLameDuckGracePeriod
	}
	if window <= 0 {
		window = DefaultLameDuckDuration
	}
	s.mu.Lock()
	if s.shutdown || s.info.LameDuckMode {
		s.mu.Unlock()
		return nil
	}
	s.info.LameDuckMode = true
	lns := append([]*listener(nil), s.listeners...)
	clients := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	s.log.Info("entering lame-duck mode", zap.Int("clients", len(clients)),
		zap.Duration("grace", grace), zap.Duration("duration", window))
	for _, l := range lns {
		l.ln.Close() // stop accepting; routes stay up until Close
	}
	s.sendAsyncInfo(clients)
	if wait(ctx, grace) && len(clients) > 0 {
		step := window / time.Duration(len(clients))
		for i, c := range clients {
			c.close(LameDuckMode)
			if i < len(clients)-1 && !wait(ctx, step) {
				break
			}
		}
	}
	return s.Close()
}

// InLameDuckMode reports whether LameDuck has started.
func (s *Server) InLameDuckMode() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.LameDuckMode
}

// wait sleeps d unless ctx ends first; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
