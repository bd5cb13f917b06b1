// Package node is Murmur's node SDK: services with an identity exchange
// direct and broadcast messages that are acknowledged, tracked until
// confirmed, redelivered when not, and de-duplicated on arrival. It runs on
// nats.go over any NATS broker path Murmur offers (TCP or QUIC); the wire
// format is plain NATS subjects and headers, specified in docs/node.md.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/transport/quic"
)

// Node is one connected node. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	subj    subjects
	session string
	nc      *nats.Conn
	log     *zap.Logger
	stats   counters

	// Static header values shared by every message sent (read-only).
	hFrom, hSession []string

	annMu     sync.Mutex // serializes presence announcements
	saidLeave bool       // the goodbye went out: no more announcements

	mu       sync.Mutex // guards tr, peers, watchers
	tr       *tracker
	peers    *peerTable
	watchers []*watcher

	slots     chan struct{} // one token per unconfirmed Data
	kick      chan struct{} // wakes the redelivery loop
	sendq     sendQueue     // first sends, published by sendLoop
	idle      chan struct{} // the unconfirmed set became empty
	resendAll atomic.Bool   // reconnected: resend everything unconfirmed
	closing   atomic.Bool

	recvMu sync.Mutex // guards dd
	dd     *dedup

	// cbMu is read-held by every nats.go callback while it runs; Close
	// write-locks it to wait for them and to stop new ones.
	cbMu     sync.RWMutex
	cbClosed bool

	msgs      chan *Message
	errs      chan *SendError
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	abandoned atomic.Int64 // Data given up by Close
}

// Connect connects to the brokers, subscribes to this node's subjects,
// announces it and returns once it can send and receive. ctx bounds the
// connection attempt.
func Connect(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		subj:    newSubjects(cfg.Namespace),
		session: newSession(),
		log:     cfg.Logger.With(zap.String("node", cfg.ID)),
		stats:   counters{m: cfg.Metrics},
		tr:      newTracker(),
		peers:   newPeerTable(time.Duration(cfg.MissedHeartbeats) * cfg.PresenceInterval),
		slots:   make(chan struct{}, cfg.MaxUnconfirmed),
		kick:    make(chan struct{}, 1),
		sendq:   sendQueue{wake: make(chan struct{}, 1)},
		idle:    make(chan struct{}, 1),
		dd:      newDedup(cfg.DedupWindow),
		msgs:    make(chan *Message, cfg.MessageBuffer),
		errs:    make(chan *SendError, cfg.ErrorBuffer),
		done:    make(chan struct{}),
		hFrom:   []string{cfg.ID},
	}
	n.hSession = []string{n.session}

	opts, err := n.natsOptions(ctx)
	if err != nil {
		return nil, err
	}
	if n.nc, err = dial(ctx, strings.Join(cfg.Servers, ","), opts); err != nil {
		return nil, fmt.Errorf("node %s: connect: %w", cfg.ID, err)
	}
	if err := n.subscribe(); err != nil {
		n.nc.Close()
		return nil, fmt.Errorf("node %s: subscribe: %w", cfg.ID, err)
	}
	n.wg.Add(3)
	go n.redeliverLoop()
	go n.presenceLoop()
	go n.sendLoop()
	n.announce(false)
	return n, nil
}

func (n *Node) natsOptions(ctx context.Context) ([]nats.Option, error) {
	cfg := &n.cfg
	opts := []nats.Option{
		nats.Name("murmur-node/" + cfg.ID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/4, cfg.ReconnectWait/4),
		// While disconnected the unconfirmed set's clocks stand still
		// (tracker.pause): a Data is given up for going unacked while a
		// broker could deliver it, not for an outage or a failover.
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.mu.Lock()
			down := n.tr.resume(time.Now())
			n.mu.Unlock()
			n.log.Info("reconnected; resending unconfirmed", zap.String("url", nc.ConnectedUrl()), zap.Duration("disconnected", down))
			n.resendAll.Store(true)
			n.wake()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.mu.Lock()
			n.tr.pause(time.Now())
			n.mu.Unlock()
			if !n.closing.Load() {
				n.log.Warn("disconnected", zap.Error(err))
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			n.log.Warn("async error; lost messages will be redelivered", zap.Error(err))
		}),
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 0 {
		opts = append(opts, nats.Timeout(time.Until(deadline)))
	}
	switch cfg.Transport {
	case TransportQUIC:
		d, err := quic.NewDialer(cfg.QUIC)
		if err != nil {
			return nil, fmt.Errorf("node: config QUIC: %w", err)
		}
		// Brokers advertise only their TCP URLs (connect_urls), which a
		// QUIC dialer cannot reach: stick to the configured servers.
		opts = append(opts, nats.SetCustomDialer(d), nats.IgnoreDiscoveredServers())
	case TransportTCP:
		if cfg.TLS != nil {
			opts = append(opts, nats.Secure(cfg.TLS))
		}
	}
	return append(opts, cfg.NATSOptions...), nil
}

// dial runs nats.go's blocking connect, giving up when ctx ends (the
// attempt itself is bounded by nats.Timeout and is waited for).
func dial(ctx context.Context, url string, opts []nats.Option) (*nats.Conn, error) {
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		return r.nc, r.err
	case <-ctx.Done():
		if r := <-ch; r.nc != nil {
			r.nc.Close()
		}
		return nil, ctx.Err()
	}
}

func (n *Node) subscribe() error {
	direct, bcast := newAcker(n), newAcker(n)
	for _, s := range []struct {
		subject string
		cb      nats.MsgHandler
		acker   *acker
	}{
		{n.subj.direct(n.cfg.ID), direct.onData, direct},
		{n.subj.broadcast, bcast.onData, bcast},
		{n.subj.ack(n.cfg.ID), n.onAck, nil},
		{n.subj.presence, n.onPresence, nil},
	} {
		sub, err := n.nc.Subscribe(s.subject, s.cb)
		if err != nil {
			return err
		}
		if s.acker != nil {
			s.acker.sub.Store(sub)
		}
	}
	return n.nc.Flush()
}

func newSession() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ID is this node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// Session is this node's incarnation (the Murmur-Session header).
func (n *Node) Session() string { return n.session }

// Messages delivers incoming Data, each once. It is closed by Close. With
// automatic acks (the default) a message is acked as soon as it has been
// put on this channel; with ManualAck the application calls Message.Ack.
// While the channel is full, incoming Data wait (and, past nats.go's
// pending limits, are dropped and later redelivered).
func (n *Node) Messages() <-chan *Message { return n.msgs }

// Errors reports Data that will not be confirmed, with their seqs, except
// those sent with a Receipt (DirectReceipt, DirectWait, ...), which report
// there. It is closed by Close.
func (n *Node) Errors() <-chan *SendError { return n.errs }

// Direct sends payload to the node to and returns its seq. It returns once
// the Data is published (not confirmed); the SDK redelivers it until to
// acks it, or reports it on Errors. When MaxUnconfirmed Data are already
// unconfirmed it blocks until one settles or ctx ends. payload is copied.
// DirectWait and DirectReceipt also tell when it is confirmed; RequirePeer
// fails it at once when to is not a live peer.
//
// Ordering: none is promised. Data sent one after the other to the same
// node usually arrive in send order, but a redelivered one (its first copy
// or its ack was lost) or one sent across a reconnect arrives after Data
// sent later, and Data sent from several goroutines at once go out in any
// order. Each Data is handed over once; the receiver sees From and Seq
// (increasing in send order per sender session) and can reorder. For
// delivery in send order, wait for each Data (DirectWait) before sending
// the next.
func (n *Node) Direct(ctx context.Context, to string, payload []byte, opts ...SendOption) (uint64, error) {
	if !validToken(to) {
		return 0, fmt.Errorf("node: direct to %q: %w", to, ErrInvalidID)
	}
	return n.send(ctx, KindDirect, to, payload, n.sendOptions(opts), nil)
}

// Broadcast sends payload to every node of the namespace and returns its
// seq. It is confirmed when every peer live now (see Peers) has acked it;
// peers that leave meanwhile stop counting, and nodes that join later do
// not receive it. Blocking as Direct; BroadcastWait and BroadcastReceipt
// tell when it is confirmed.
//
// Ordering: none is promised, as for Direct: a peer that missed a
// broadcast gets it redelivered alone, after broadcasts sent later, and
// broadcasts and directs from one sender are not ordered with each other.
func (n *Node) Broadcast(ctx context.Context, payload []byte, opts ...SendOption) (uint64, error) {
	return n.send(ctx, KindBroadcast, "", payload, n.sendOptions(opts), nil)
}

// send queues one Data; r, when not nil, is settled with its outcome.
func (n *Node) send(ctx context.Context, kind Kind, to string, payload []byte, o sendOptions, r *Receipt) (uint64, error) {
	if n.closing.Load() {
		return 0, ErrClosed
	}
	if o.requirePeer {
		// Checked before waiting for a slot: the point is to fail fast.
		if err := n.checkPeer(kind, to); err != nil {
			return 0, err
		}
	}
	select {
	case n.slots <- struct{}{}:
	default:
		select {
		case n.slots <- struct{}{}:
		case <-ctx.Done():
			return 0, fmt.Errorf("%w (%d): %w", ErrTooManyUnconfirmed, n.cfg.MaxUnconfirmed, ctx.Err())
		case <-n.done:
			return 0, ErrClosed
		}
	}
	now := time.Now()
	p := &pending{kind: kind, to: to, payload: append([]byte(nil), payload...), sent: now, deadline: now.Add(n.cfg.AckTimeout), receipt: r}
	n.mu.Lock()
	if n.closing.Load() {
		n.mu.Unlock()
		<-n.slots
		return 0, ErrClosed
	}
	p.seq = n.tr.assign()
	if r != nil {
		r.Seq = p.seq
	}
	if kind == KindBroadcast {
		p.waiting = n.peers.ids()
	}
	wasEmpty := n.tr.len() == 0
	// Tracked even when no peer must ack, until published: the floor must
	// not pass a seq that is not on the wire yet (sendLoop settles it).
	n.tr.add(p)
	unconfirmed := n.tr.len()
	n.mu.Unlock()
	if wasEmpty {
		n.wake()
	}
	n.stats.add(&n.stats.dataSent, "data_sent", 1)
	n.stats.m.Gauge("unconfirmed", int64(unconfirmed))

	subject := n.subj.broadcast
	if kind == KindDirect {
		subject = n.subj.direct(to)
	}
	n.sendq.push(outgoing{subject: subject, p: p})
	return p.seq, nil
}

// msgPool recycles the nats.Msg (and its one-entry header map) of first
// sends: nats.go encodes a message into its buffer before PublishMsg
// returns, so the Msg is free again right after.
var msgPool = sync.Pool{New: func() any {
	return &nats.Msg{Header: nats.Header{HeaderData: make([]string, 1)}}
}}

// publishData sends p's first copy.
func (n *Node) publishData(subject string, p *pending, floor uint64) error {
	var buf [128]byte
	m := msgPool.Get().(*nats.Msg)
	m.Subject, m.Data = subject, p.payload
	m.Header[HeaderData][0] = string(appendData(buf[:0], n.cfg.ID, n.session, p.seq, p.kind, min(floor, p.seq)))
	err := n.nc.PublishMsg(m)
	m.Data = nil
	msgPool.Put(m)
	return err
}

func (n *Node) dataMsg(subject string, p *pending, floor uint64) *nats.Msg {
	var buf [128]byte
	v := appendData(buf[:0], n.cfg.ID, n.session, p.seq, p.kind, min(floor, p.seq))
	return &nats.Msg{
		Subject: subject,
		Header:  nats.Header{HeaderData: {string(v)}},
		Data:    p.payload,
	}
}

// checkPeer is RequirePeer's test: someone live can ack the Data.
func (n *Node) checkPeer(kind Kind, to string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case kind == KindDirect && to != n.cfg.ID && n.peers.peers[to] == nil:
		return fmt.Errorf("node: direct to %q (RequirePeer): %w", to, ErrNoPeer)
	case kind == KindBroadcast && len(n.peers.peers) == 0:
		return fmt.Errorf("node: broadcast (RequirePeer): %w", ErrNoPeer)
	}
	return nil
}

// settled frees the slots of Data that left the unconfirmed set and
// settles their receipts; left is the set's size after. acked says whether
// they were confirmed (latency is observed) rather than failed (fail ran
// first and recorded why).
func (n *Node) settled(ps []*pending, left int, acked bool) {
	now := time.Now()
	for _, p := range ps {
		<-n.slots
		if acked {
			n.stats.m.Observe("ack_latency", now.Sub(p.sent))
		}
		if p.receipt != nil {
			p.receipt.settle(p.failed)
		}
	}
	n.stats.m.Gauge("unconfirmed", int64(left))
	if left == 0 {
		select {
		case n.idle <- struct{}{}:
		default:
		}
	}
}

// wake nudges the redelivery loop to recompute its timer.
func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Peers returns the live peers (not this node), sorted by ID.
func (n *Node) Peers() []Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers.snapshot()
}

// Watch returns a channel of peer events: first a join for every live peer,
// then each join and leave as it happens. Events queue without bound until
// read. The channel is closed when ctx ends or the node closes.
func (n *Node) Watch(ctx context.Context) <-chan PeerEvent {
	w := &watcher{signal: make(chan struct{}, 1), out: make(chan PeerEvent)}
	n.mu.Lock()
	for _, p := range n.peers.snapshot() {
		w.queue = append(w.queue, PeerEvent{Peer: p})
	}
	if n.closing.Load() {
		n.mu.Unlock()
		close(w.out)
		return w.out
	}
	n.watchers = append(n.watchers, w)
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		w.run(ctx, n.done)
		n.mu.Lock()
		for i, o := range n.watchers {
			if o == w {
				n.watchers = append(n.watchers[:i], n.watchers[i+1:]...)
				break
			}
		}
		n.mu.Unlock()
	}()
	return w.out
}

// Stats returns a snapshot of the counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	unconfirmed, peers := n.tr.len(), len(n.peers.peers)
	n.mu.Unlock()
	c := &n.stats
	return Stats{
		DataSent:          c.dataSent.Load(),
		DataReceived:      c.dataReceived.Load(),
		AckSent:           c.ackSent.Load(),
		AckReceived:       c.ackReceived.Load(),
		Unconfirmed:       unconfirmed,
		Redelivered:       c.redelivered.Load(),
		Failed:            c.failed.Load(),
		DuplicatesDropped: c.duplicates.Load(),
		Malformed:         c.malformed.Load(),
		Peers:             peers,
	}
}

// fail reports p as given up, on its receipt or on Errors (its slot is
// freed, and its receipt settled, by settled).
func (n *Node) fail(p *pending, err error) {
	n.stats.add(&n.stats.failed, "failed", 1)
	se := &SendError{Seq: p.seq, Kind: p.kind, To: p.to, Attempts: p.attempts + 1, Err: err}
	for id := range p.waiting {
		se.Missing = append(se.Missing, id)
	}
	slices.Sort(se.Missing)
	if p.receipt != nil {
		p.failed = se
		return
	}
	select {
	case n.errs <- se:
	default:
		n.log.Warn("errors channel full, report dropped", zap.Error(se))
	}
}

// enter admits a nats.go callback unless the node is closed; exit must
// follow when it returns true.
func (n *Node) enter() bool {
	n.cbMu.RLock()
	if n.cbClosed {
		n.cbMu.RUnlock()
		return false
	}
	return true
}

func (n *Node) exit() { n.cbMu.RUnlock() }
