package node

import (
	"context"
	"fmt"
)

// Receipt follows one Data until it is settled: confirmed (acked by its
// target, or by every peer a broadcast waits for) or given up. Its methods
// are safe for concurrent use.
type Receipt struct {
	// Seq is the Data's sequence number, as Direct returns it.
	Seq uint64

	done chan struct{}
	err  error // written once, before done is closed
}

func newReceipt() *Receipt { return &Receipt{done: make(chan struct{})} }

// Done is closed once the Data is settled; Err then says how.
func (r *Receipt) Done() <-chan struct{} { return r.done }

// Err is nil while the Data is unsettled and after it was confirmed; once
// it was given up, a *SendError (errors.Is ErrNotAcked, ErrAbandoned or
// ErrNoPeer). A Data with a Receipt is reported here, not on Node.Errors.
func (r *Receipt) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Wait blocks until the Data is settled and returns Err, or returns an error
// wrapping ctx's once ctx ends first (the Data stays tracked and is still
// redelivered; Done and Err tell the outcome later).
func (r *Receipt) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("node: seq %d not confirmed yet: %w", r.Seq, ctx.Err())
	}
}

// settle records the outcome (nil: confirmed) and wakes the waiters. It is
// called once, by whoever removed the Data from the unconfirmed set.
func (r *Receipt) settle(err error) {
	r.err = err
	close(r.done)
}

// SendOption adjusts one Direct or Broadcast call.
type SendOption func(*sendOptions)

type sendOptions struct {
	requirePeer bool
}

// RequirePeer makes the call fail at once with an error wrapping ErrNoPeer
// when nobody could ack it: a Direct whose target is not a live peer (no
// presence heard from it, or it left; sending to this node's own ID is
// always allowed), or a Broadcast while no peer is live. Config.RequirePeer
// turns it on for every call. Peers are known from their presence
// heartbeats: a node that has just connected learns of the others within
// about one presence round trip (Watch or Peers tell when).
func RequirePeer() SendOption { return func(o *sendOptions) { o.requirePeer = true } }

func (n *Node) sendOptions(opts []SendOption) sendOptions {
	o := sendOptions{requirePeer: n.cfg.RequirePeer}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// DirectReceipt is Direct returning a Receipt that reports when the Data
// is confirmed or given up. Its failure is reported on the Receipt only,
// not on Errors.
func (n *Node) DirectReceipt(ctx context.Context, to string, payload []byte, opts ...SendOption) (*Receipt, error) {
	if !validToken(to) {
		return nil, fmt.Errorf("node: direct to %q: %w", to, ErrInvalidID)
	}
	r := newReceipt()
	if _, err := n.send(ctx, KindDirect, to, payload, n.sendOptions(opts), r); err != nil {
		return nil, err
	}
	return r, nil
}

// BroadcastReceipt is Broadcast returning a Receipt: confirmed when every
// peer live at the send has acked it (or left); at once when none was.
func (n *Node) BroadcastReceipt(ctx context.Context, payload []byte, opts ...SendOption) (*Receipt, error) {
	r := newReceipt()
	if _, err := n.send(ctx, KindBroadcast, "", payload, n.sendOptions(opts), r); err != nil {
		return nil, err
	}
	return r, nil
}

// DirectWait sends as Direct and waits until to has acked the Data: nil
// then, or the *SendError of a Data given up (after MaxRedeliveries, or by
// Close). ctx bounds the send and the wait; when it ends first the error
// wraps ctx's and the Data stays tracked. The seq is returned whenever the
// Data was sent.
//
// A sender that waits for each Data before sending the next gets them
// handed over in send order (stop-and-wait), at one round trip per Data.
func (n *Node) DirectWait(ctx context.Context, to string, payload []byte, opts ...SendOption) (uint64, error) {
	r, err := n.DirectReceipt(ctx, to, payload, opts...)
	if err != nil {
		return 0, err
	}
	return r.Seq, r.Wait(ctx)
}

// BroadcastWait sends as Broadcast and waits until every peer live at the
// send has acked it (or left), with DirectWait's errors and ctx.
func (n *Node) BroadcastWait(ctx context.Context, payload []byte, opts ...SendOption) (uint64, error) {
	r, err := n.BroadcastReceipt(ctx, payload, opts...)
	if err != nil {
		return 0, err
	}
	return r.Seq, r.Wait(ctx)
}
