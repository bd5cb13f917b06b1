package node

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Message is one Data handed to the application.
type Message struct {
	// From is the sender's node ID.
	From string
	// Seq is the sender's sequence number; (From, Seq) is unique per sender
	// incarnation.
	Seq uint64
	// Kind says whether it was sent to this node only or to all.
	Kind Kind
	// Payload is the body as sent.
	Payload []byte

	session string
	n       *Node
	acked   atomic.Bool
}

// Ack acknowledges the message to its sender. Only needed with
// Config.ManualAck (otherwise it does nothing); calling it again does
// nothing.
func (m *Message) Ack() error {
	n := m.n
	if !n.cfg.ManualAck || m.acked.Swap(true) {
		return nil
	}
	if isClosed(n.done) {
		return ErrClosed
	}
	n.recvMu.Lock()
	n.dd.acked(m.From, m.session, m.Seq)
	n.recvMu.Unlock()
	return n.publishAck(m.From, m.session, []uint64{m.Seq})
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// acker handles Data for one subscription and coalesces its acks: they are
// sent when nats.go has no further message queued for the subscription (so
// an idle stream acks at once) or when a batch is full.
type acker struct {
	n       *Node
	sub     atomic.Pointer[nats.Subscription]
	pending map[ackKey][]uint64
	count   int
	batch   []data // scratch for decoding
}

type ackKey struct{ to, session string }

const maxAckBatch = 256

func newAcker(n *Node) *acker { return &acker{n: n, pending: make(map[ackKey][]uint64)} }

func (a *acker) onData(m *nats.Msg) {
	n := a.n
	if !n.enter() {
		return
	}
	defer n.exit()
	defer a.maybeFlush()
	var err error
	if a.batch, err = decodeBatch(m.Header, m.Data, a.batch[:0]); err != nil {
		n.malformed(m, err)
		return
	}
	for _, d := range a.batch {
		if !a.onOne(m.Subject, d) {
			break
		}
	}
	clear(a.batch)
}

// onOne handles one Data; it reports false once the node is closing.
func (a *acker) onOne(subject string, d data) bool {
	n := a.n
	if d.from == n.cfg.ID && subject == n.subj.broadcast {
		return true // our own broadcast, echoed
	}
	n.recvMu.Lock()
	v := n.dd.check(d.from, d.session, d.seq, d.floor)
	if v == fresh && !n.cfg.ManualAck {
		n.dd.acked(d.from, d.session, d.seq)
	}
	n.recvMu.Unlock()
	switch v {
	case dupAcked:
		n.stats.add(&n.stats.duplicates, "duplicates_dropped", 1)
		a.add(d.from, d.session, d.seq)
		return true
	case dupPending:
		n.stats.add(&n.stats.duplicates, "duplicates_dropped", 1)
		return true
	}
	msg := &Message{From: d.from, Seq: d.seq, Kind: d.kind, Payload: d.payload, session: d.session, n: n}
	select {
	case n.msgs <- msg:
	case <-n.done:
		return false
	}
	n.stats.add(&n.stats.dataReceived, "data_received", 1)
	n.stats.m.Gauge("inbox_depth", int64(len(n.msgs)))
	if !n.cfg.ManualAck {
		a.add(d.from, d.session, d.seq)
	}
	return true
}

func (a *acker) add(to, session string, seq uint64) {
	k := ackKey{to, session}
	a.pending[k] = append(a.pending[k], seq)
	a.count++
}

func (a *acker) maybeFlush() {
	if a.count == 0 {
		return
	}
	if a.count < maxAckBatch {
		if sub := a.sub.Load(); sub != nil {
			// nats.go counts the message being handled until its
			// callback returns: more than one means more are queued.
			if queued, _, err := sub.Pending(); err == nil && queued > 1 {
				return
			}
		}
	}
	for k, seqs := range a.pending {
		_ = a.n.publishAck(k.to, k.session, seqs)
		delete(a.pending, k)
	}
	a.count = 0
}

// publishAck acks seqs of (to, session).
func (n *Node) publishAck(to, session string, seqs []uint64) error {
	if !validToken(to) {
		return nil
	}
	// A seq can be queued twice (its first delivery and a redelivery in one
	// ack batch); it is acked, and counted, once.
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	var buf [64]byte
	list := string(appendSeqList(buf[:0], seqs))
	err := n.nc.PublishMsg(&nats.Msg{
		Subject: n.subj.ack(to),
		Header: nats.Header{
			HeaderFrom:    n.hFrom,
			HeaderSession: {session},
			HeaderAckSeq:  {list},
		},
	})
	if err != nil {
		return err
	}
	n.stats.add(&n.stats.ackSent, "ack_sent", len(seqs))
	return nil
}

// onAck settles acked Data.
func (n *Node) onAck(m *nats.Msg) {
	if !n.enter() {
		return
	}
	defer n.exit()
	a, err := decodeAck(m.Header)
	if err != nil {
		n.malformed(m, err)
		return
	}
	if a.session != n.session {
		return // for an earlier incarnation of this ID
	}
	n.stats.add(&n.stats.ackReceived, "ack_received", len(a.seqs))
	var done []*pending
	n.mu.Lock()
	for _, s := range a.seqs {
		if p := n.tr.acked(s, a.from); p != nil {
			done = append(done, p)
		}
	}
	left := n.tr.len()
	n.mu.Unlock()
	if len(done) > 0 {
		n.settled(done, left, true)
	}
}

// onPresence tracks peers from their heartbeats.
func (n *Node) onPresence(m *nats.Msg) {
	if !n.enter() {
		return
	}
	defer n.exit()
	p, err := decodePresence(m.Header)
	if err != nil {
		n.malformed(m, err)
		return
	}
	if p.from == n.cfg.ID {
		return
	}
	now := time.Now()
	if p.leave {
		n.mu.Lock()
		cur, ok := n.peers.peers[p.from]
		if !ok || cur.Session != p.session {
			n.mu.Unlock()
			return // unknown, or an old incarnation's goodbye
		}
		n.peerLeftLocked(p.from)
		n.mu.Unlock()
		n.recvMu.Lock()
		n.dd.forget(p.from)
		n.recvMu.Unlock()
		return
	}
	n.mu.Lock()
	peer, joined := n.peers.seen(p.from, p.session, now)
	if joined {
		n.emitLocked(PeerEvent{Peer: peer})
	}
	count := len(n.peers.peers)
	n.mu.Unlock()
	if joined {
		n.log.Debug("peer joined", zap.String("peer", p.from))
		n.stats.m.Gauge("peers", int64(count))
		n.announce(false) // so the newcomer learns of us at once
	}
}

// peerLeftLocked removes a peer and settles broadcasts that only waited
// for it. n.mu is held; it is released and retaken around settling.
func (n *Node) peerLeftLocked(id string) {
	peer, ok := n.peers.leave(id)
	if !ok {
		return
	}
	n.emitLocked(PeerEvent{Peer: peer, Left: true})
	if n.closing.Load() {
		// Closing: a direct to it can no longer be acked in time.
		n.abandonLocked(n.tr.directsTo(func(to string) bool { return to == id }), errNoPeerAtClose)
	}
	done := n.tr.peerGone(id)
	left, count := n.tr.len(), len(n.peers.peers)
	n.mu.Unlock()
	n.log.Debug("peer left", zap.String("peer", id))
	n.stats.m.Gauge("peers", int64(count))
	if len(done) > 0 {
		n.settled(done, left, true)
	}
	n.mu.Lock()
}

func (n *Node) emitLocked(ev PeerEvent) {
	for _, w := range n.watchers {
		w.push(ev)
	}
}

// announce publishes a presence heartbeat (or the goodbye).
func (n *Node) announce(leave bool) {
	// Serialized, and nothing after the goodbye: an "alive" published by a
	// concurrent handler after "leave" would bring this node back to life
	// in the others' peer lists.
	n.annMu.Lock()
	defer n.annMu.Unlock()
	if n.saidLeave {
		return
	}
	state := "alive"
	if leave {
		state = "leave"
		n.saidLeave = true
	}
	_ = n.nc.PublishMsg(&nats.Msg{
		Subject: n.subj.presence,
		Header:  nats.Header{HeaderFrom: n.hFrom, HeaderSession: n.hSession, HeaderPresence: {state}},
	})
}

// malformed counts (and debug-logs) a message that did not decode.
func (n *Node) malformed(m *nats.Msg, err error) {
	n.stats.add(&n.stats.malformed, "malformed", 1)
	n.log.Debug("malformed message ignored", zap.String("subject", m.Subject), zap.Error(err))
}
