package broker

import (
	"context"
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
