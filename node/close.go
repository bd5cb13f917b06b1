package node

import (
	"context"
	"fmt"
	"time"
)

// errNoPeerAtClose is the SendError.Err of a direct Close gave up at once:
// its target is not a live peer, so no drain could see it acked.
var errNoPeerAtClose = fmt.Errorf("%w: %w", ErrAbandoned, ErrNoPeer)

// Close stops the node: new sends fail with ErrClosed; unconfirmed Data are
// waited for up to DrainTimeout (not at all with AbandonOnClose), the rest
// reported (on Errors, or on their Receipt) as ErrAbandoned; peers are told
// it leaves; every goroutine is stopped before it returns; Messages and
// Errors are closed. Directs that can never be acked, because their target
// is not a live peer (never heard, or left or timed out, also during the
// drain), are not waited for: they are given up at once with an error
// wrapping both ErrAbandoned and ErrNoPeer. It returns an error wrapping
// ErrAbandoned if any Data was given up.
func (n *Node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DrainTimeout)
	defer cancel()
	return n.Shutdown(ctx)
}

// Shutdown is Close with ctx bounding the drain instead of DrainTimeout.
func (n *Node) Shutdown(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(ctx) })
	return n.closeErr
}

func (n *Node) shutdown(ctx context.Context) error {
	n.mu.Lock()
	n.closing.Store(true)
	unreachable := n.tr.directsTo(func(to string) bool { return to != n.cfg.ID && n.peers.peers[to] == nil })
	n.abandonLocked(unreachable, errNoPeerAtClose)
	n.mu.Unlock()
	if !n.cfg.AbandonOnClose {
		n.drain(ctx)
	}
	n.mu.Lock()
	rest := n.tr.all()
	n.abandonLocked(rest, ErrAbandoned)
	n.mu.Unlock()

	n.announce(true)
	close(n.done)
	n.wg.Wait()
	// Callbacks still running finish first (one blocked handing a message
	// over gives up on done), so the acks for every message already handed
	// to the application are published before the last flush.
	n.cbMu.Lock()
	n.cbClosed = true
	n.cbMu.Unlock()
	_ = n.nc.FlushTimeout(time.Second)
	n.nc.Close()
	close(n.msgs)
	close(n.errs)
	if given := n.abandoned.Load(); given > 0 {
		return fmt.Errorf("node %s: closed with %d unconfirmed: %w", n.cfg.ID, given, ErrAbandoned)
	}
	return nil
}

// abandonLocked gives up ps at Close with err. n.mu is held; it is
// released and retaken around the reports (fail may log, settled wakes
// receipts and the drain).
func (n *Node) abandonLocked(ps []*pending, err error) {
	if len(ps) == 0 {
		return
	}
	for _, p := range ps {
		n.tr.remove(p)
	}
	left := n.tr.len()
	n.mu.Unlock()
	n.abandoned.Add(int64(len(ps)))
	for _, p := range ps {
		n.fail(p, err)
	}
	n.settled(ps, left, false)
	n.mu.Lock()
}

// drain waits until the unconfirmed set is empty or ctx ends.
func (n *Node) drain(ctx context.Context) {
	for {
		n.mu.Lock()
		left := n.tr.len()
		n.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-n.idle:
		case <-ctx.Done():
			return
		}
	}
}
