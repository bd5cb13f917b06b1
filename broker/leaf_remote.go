package broker

import (
	"context"
	"net"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
)

// leafRemote is one configured hub this broker dials as a leaf, and the
// state of its redial loop (runRemote).
type leafRemote struct {
	opts RemoteLeaf
	urls []*url.URL
	acc  *account // the local account the connection binds

	learned learnedURLs // from the hub's INFO leafnode_urls (leaf_urls.go)

	mu    sync.Mutex
	delay time.Duration // a wait the next dial must respect (a loop report)
	cur   *leaf         // the live connection (nil: none)
}

// delayNext makes the next dial wait at least d.
func (r *leafRemote) delayNext(d time.Duration) {
	r.mu.Lock()
	r.delay = max(r.delay, d)
	r.mu.Unlock()
}

func (r *leafRemote) takeDelay() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delay
	r.delay = 0
	return d
}

// leafMinBackoff is the first wait after a failed dial; it doubles up to
// LeafNodeOptions.Reconnect.
const leafMinBackoff = 50 * time.Millisecond

// peerRestarted reports whether a leaf connection ended because its peer
// restarted: over QUIC, a stateless reset (transport/quic Conn.PeerRestarted).
// TCP reports nothing of the kind: a reset or FIN there can also come from
// a hub going down, so its redial keeps the backoff.
func peerRestarted(nc net.Conn) bool {
	if c, ok := nc.(*leafS2Conn); ok {
		nc = c.Conn
	}
	pr, ok := nc.(interface{ PeerRestarted() bool })
	return ok && pr.PeerRestarted()
}

// runRemote dials r's URLs in turn until one connects, waits for the
// connection to end, and dials again, with backoff, until ctx ends. A new
// connection re-sends the whole local interest (leafInterest.add), so a
// hub that restarted learns it again.
func (s *Server) runRemote(ctx context.Context, r *leafRemote) {
	defer s.wg.Done()
	ceiling := s.opts.LeafNode.Reconnect
	if ceiling <= 0 {
		ceiling = DefaultLeafReconnect
	}
	backoff := leafMinBackoff
	next := 0
	for ctx.Err() == nil {
		urls := r.candidates()
		u := urls[next%len(urls)]
		next++
		l, err := s.dialLeaf(ctx, r, u)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Info("leaf node dial failed", zap.String("url", u.Redacted()), zap.Error(err))
		} else {
			r.mu.Lock()
			r.cur = l
			r.mu.Unlock()
			up := time.Now()
			select {
			case <-l.done:
			case <-ctx.Done():
				return
			}
			r.mu.Lock()
			r.cur = nil
			r.mu.Unlock()
			if time.Since(up) > ceiling {
				backoff = leafMinBackoff
			}
			if peerRestarted(l.nc) && time.Since(up) >= leafMinBackoff {
				// The hub answered with a stateless reset: it is up again
				// (restarted with its certificate) and lost our connection,
				// so the redial goes at once, to the same URL; backoff still
				// applies to the dials after it. (A connection reset as soon
				// as it was up waits, so nothing can make this loop spin.)
				if d := r.takeDelay(); d > 0 {
					r.delayNext(d)
				} else {
					next--
					continue
				}
			}
		}
		wait := max(backoff, r.takeDelay())
		backoff = min(2*backoff, ceiling)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
