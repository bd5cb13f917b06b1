// Package mux is the multiplexor: it decides, for one published message,
// which subscriptions and routes receive it, and hands it to their owners.
// It is the fan-out core: no goroutines and no sockets of its own; owners
// (client connections, routes) queue what they are given and write it on
// their own goroutines.
package mux

import (
	"bytes"
	"math/rand/v2"
	"sync/atomic"

	"github.com/murmurmq/murmur/pubsub"
)

// Kind tells clients from routes and leaf node connections. Messages that
// arrive over a route are delivered to clients and leaf nodes only (one
// hop); messages from clients also go to each interested route and leaf
// node, once per connection; messages from a leaf node go to clients,
// routes and the other leaf nodes (see LeafConn for the exceptions).
type Kind uint8

// Owner kinds.
const (
	Client Kind = iota
	Route
	Leaf
)

// Conn is the owner of subscriptions: a client connection or a route.
type Conn interface {
	// Kind says whether this is a client or a route.
	Kind() Kind
	// NoEcho reports that the connection asked not to receive its own messages.
	NoEcho() bool
	// Deliver queues msg for sub without blocking on I/O (it may stall
	// briefly when the owner is far behind). It returns needFlush = true when
	// the owner's writer must be woken (the caller does that once per batch
	// through Batch.Flush) and ok = false when the message was refused
	// (connection closing or slow consumer). A refused message still counts
	// toward the subscription's auto-unsubscribe maximum, as in nats-server.
	Deliver(sub *Sub, msg *Msg) (needFlush, ok bool)
	// Flush gets the owner's queued output going: it wakes the owner's
	// writer, or writes a small backlog itself under a short deadline
	// (about a millisecond), handing any rest to the writer. It never
	// waits for a slow peer beyond that.
	Flush()
	// Expired is called once when a subscription reached its auto-unsubscribe
	// maximum; the mux has already removed it from the index.
	Expired(sub *Sub)
}

// RouteConn is implemented by route owners. A route gets each message at
// most once, with the names of the queue groups this broker picked it for;
// the remote broker delivers it to all its local plain subscribers and to one
// local member of each named group.
type RouteConn interface {
	Conn
	DeliverRouted(msg *Msg, queues []string) (needFlush, ok bool)
}

// LeafConn is implemented by leaf node connection owners. Like a route, a
// leaf connection gets each message at most once, with the queue groups it
// was picked for. Unlike a route, it is picked for a queue group only when
// the group has no member on this broker or its routes (nats-server's
// local preference), and messages from it go on to routes and other leaf
// connections.
type LeafConn interface {
	RouteConn
	// ToHub reports that the peer is this broker's hub: this broker
	// dialed it as a leaf (a spoke). A message from a route or from a hub
	// is never sent to a hub (nats-server's rule: the hub's cluster
	// already has it), and a message from a hub never goes to a route.
	ToHub() bool
}

// Filter decides per message whether a subscription receives it. A
// message it refuses is skipped as if the subscription did not match: not
// delivered, not counted toward the auto-unsubscribe maximum, and a queue
// group picks another member. Admit runs on the publisher's goroutine,
// concurrently for many publishers; it must not block.
type Filter interface {
	Admit(sub *Sub, msg *Msg) bool
}

// Forwarder republishes a message a subscription received into another
// index (the broker's account imports: a stream or service exported by one
// account and imported by another). It runs on the publisher's goroutine
// in place of a delivery, with a batch of its own (merged into the
// publisher's), so what it publishes is flushed with the rest; from is the
// original publisher. It returns the deliveries made; 0 counts as not
// delivered (a request then gets the no-responders status).
type Forwarder interface {
	Forward(sub *Sub, from Conn, msg *Msg, b *Batch) int
}

// Msg is one published message. Slices are only valid during Publish.
type Msg struct {
	Subject []byte
	Reply   []byte
	// Header is the NATS/1.0 header block (nil when the message has none).
	Header  []byte
	Payload []byte
	// Queues, on a message arriving over a route, names the queue groups
	// the sending broker picked this broker for (nil otherwise).
	Queues [][]byte
	// Account names the account (subject space) the message is published
	// in, for routes to carry; the multiplexor itself does not read it.
	Account string
	// Hops counts the forwards (imports) this message went through, so a
	// cycle of imports ends (see MaxHops).
	Hops int
	// Match, when set, is the subject subscriptions are matched on in
	// place of Subject, which is still what subscribers see: JetStream
	// delivers a stored message to a consumer's inbox under the
	// message's own subject. Such a message crosses a route only when its
	// reply is a JetStream ack subject (RoutesMatch), which carries the
	// subject across (docs/routes.md); it never goes to a leaf connection.
	Match []byte
}

// RoutesMatch reports whether msg may go to a route: always without
// Match; with it, when the reply is a $JS.ACK subject (8 dots or more)
// the route can append the message's subject to (nats-server's
// "<reply>@<subject>").
func (m *Msg) RoutesMatch() bool {
	return m.Match == nil || len(m.Reply) > 8 && string(m.Reply[:8]) == "$JS.ACK." && bytes.Count(m.Reply, []byte{'.'}) >= 8
}

// MaxHops bounds how many forwards one message may go through.
const MaxHops = 8

// Size is the message's size on the wire: header plus payload.
func (m *Msg) Size() int { return len(m.Header) + len(m.Payload) }

// Sub is one subscription in the index.
type Sub struct {
	Subject string
	Queue   string
	// SID is the client's subscription id, written back in MSG lines.
	SID []byte
	// Owner receives the messages.
	Owner Conn
	// Weight is how many members a remote queue entry stands for (a route
	// reports its broker's member count); 0 and 1 both mean one.
	Weight int
	// Forward, when set (before Subscribe), takes each message in place
	// of Owner.Deliver (Owner still names who holds the subscription).
	Forward Forwarder
	// Filter, when set (before Subscribe), is asked before each delivery
	// to this subscription. It costs a call per message, so owners set it
	// only where a subscription may match what its owner must not see (the
	// broker: wildcard subscriptions of user-authenticated clients).
	Filter Filter

	max       atomic.Int64 // auto-unsubscribe limit; 0 = none
	delivered atomic.Int64
}

// SetMax sets the auto-unsubscribe limit. It reports false when the
// subscription has already delivered max messages, in which case the caller
// removes it at once (as nats-server does).
func (s *Sub) SetMax(max int) bool {
	s.max.Store(int64(max))
	return max <= 0 || s.delivered.Load() < int64(max)
}

// Max is the auto-unsubscribe limit (0: none).
func (s *Sub) Max() int { return int(s.max.Load()) }

// Delivered is the number of messages delivered so far.
func (s *Sub) Delivered() int64 { return s.delivered.Load() }

// Mux owns the subscription index and fans messages out over it.
type Mux struct {
	subs *pubsub.Sublist[*Sub]
	intn func(n int) int // queue picks: a number in [0, n)
}

// New returns an empty multiplexor whose queue picks are random
// (math/rand/v2, which costs publishers on different cores nothing shared).
func New() *Mux { return NewWithRand(rand.IntN) }

// NewWithRand returns an empty multiplexor whose queue picks come from
// intn, which returns a number in [0, n) and must be safe for concurrent
// use (every publisher calls it). A test gives a seeded source to
// reproduce a pick sequence.
func NewWithRand(intn func(n int) int) *Mux {
	return &Mux{subs: pubsub.NewSublist[*Sub](), intn: intn}
}

// Subscribe adds sub to the index. It fails with pubsub.ErrInvalidSubject.
func (m *Mux) Subscribe(sub *Sub) error { return m.subs.Insert(sub.Subject, sub.Queue, sub) }

// Unsubscribe removes sub; it reports whether it was there.
func (m *Mux) Unsubscribe(sub *Sub) bool { return m.subs.Remove(sub.Subject, sub.Queue, sub) }

// Match returns the subscriptions for a literal subject (shared; read only).
func (m *Mux) Match(subject []byte) *pubsub.Result[*Sub] { return m.subs.Match(subject) }

// Index exposes the index for monitoring (counts, stats).
func (m *Mux) Index() *pubsub.Sublist[*Sub] { return m.subs }

// Batch collects, for one reader goroutine, the connections to wake once its
// current read buffer is processed, so many messages cost one wake-up per
// destination. The zero value is ready; it is not safe for concurrent use.
type Batch struct {
	pending []Conn
	routes  []routeTarget // scratch: routes the current message goes to
	nested  *Batch        // for forwards made while this batch is in use
	// Lookups counts this batch's index lookups, for the owner to sum.
	Lookups pubsub.MatchCount
	// Delivered counts deliveries (messages and bytes) since the last Reset,
	// for the caller's statistics.
	Msgs, Bytes int64
}

// Flush flushes every collected connection (Conn.Flush) and forgets them.
func (b *Batch) Flush() {
	for i, c := range b.pending {
		c.Flush()
		b.pending[i] = nil
	}
	b.pending = b.pending[:0]
}

// Publish delivers msg to every matching subscription: all plain ones, one
// member of each queue group, never to from itself when from asked for no
// echo, and once to each route and leaf connection with interest, by the
// rules of Kind and LeafConn. It returns the number of deliveries made.
func (m *Mux) Publish(from Conn, msg *Msg, b *Batch) int {
	key := msg.Subject
	if msg.Match != nil {
		key = msg.Match
	}
	r := m.subs.MatchCounted(key, &b.Lookups)
	if r.Empty() {
		return 0
	}
	o := originOf(from)
	n := 0
	b.routes = b.routes[:0]
	for _, s := range r.Plain {
		owner := s.Owner
		if o.noEcho && owner == from {
			continue
		}
		if k := owner.Kind(); k != Client {
			if (msg.Match == nil || k == Route && msg.RoutesMatch()) && o.sendsTo(owner, k) { // a stored message (Match): see RoutesMatch
				b.routeTarget(owner)
			}
			continue
		}
		if m.deliver(s, from, msg, b) {
			n++
		}
	}
	for i := range r.Queues {
		if o.peer && !named(msg.Queues, r.Queues[i].Name) {
			// The sending broker made the pick for this group elsewhere
			// (or, from a leaf node, sent it for plain interest only).
			continue
		}
		if m.pickQueue(&r.Queues[i], from, o, msg, b) {
			n++ // a local member; a route pick is counted below, once per route
		}
	}
	for i := range b.routes {
		t := &b.routes[i]
		needFlush, ok := t.conn.(RouteConn).DeliverRouted(msg, t.queues)
		if needFlush {
			b.pending = append(b.pending, t.conn)
		}
		if ok {
			n++
			b.Msgs++ // server out_msgs count route sends, as nats-server's do
			b.Bytes += int64(msg.Size())
		} else {
			// The connection is closing: give its groups to local members.
			lo := o
			lo.localOnly = true
			for _, g := range t.groups {
				if m.pickQueue(g, from, lo, msg, b) {
					n++
				}
			}
		}
		clear(t.groups)
		t.conn, t.queues, t.groups = nil, t.queues[:0], t.groups[:0]
	}
	return n
}

// origin is what Publish needs to know of the publisher.
type origin struct {
	from      Conn
	route     bool // from a route
	hub       bool // from a leaf connection to this broker's hub
	peer      bool // from another broker (route or leaf connection)
	noEcho    bool
	localOnly bool // queue picks among clients only (a target refused)
}

func originOf(from Conn) origin {
	o := origin{from: from}
	if from == nil {
		return o
	}
	switch from.Kind() {
	case Route:
		o.route, o.peer = true, true
	case Leaf:
		o.peer = true
		o.hub = from.(LeafConn).ToHub()
	}
	o.noEcho = from.NoEcho()
	return o
}

// sendsTo reports whether a message from o may go to the route or leaf
// connection c of kind k.
func (o origin) sendsTo(c Conn, k Kind) bool {
	if c == o.from {
		return false
	}
	if k == Route {
		return !o.route && !o.hub
	}
	return !(c.(LeafConn).ToHub() && (o.route || o.hub))
}

// routeTarget is one route the current message goes to, with the queue
// groups it was picked for.
type routeTarget struct {
	conn   Conn
	queues []string
	groups []*pubsub.QueueGroup[*Sub] // the groups behind queues
}

// routeTarget returns the target entry for route o, adding it if new.
func (b *Batch) routeTarget(o Conn) *routeTarget {
	for i := range b.routes {
		if b.routes[i].conn == o {
			return &b.routes[i]
		}
	}
	if len(b.routes) < cap(b.routes) {
		b.routes = b.routes[:len(b.routes)+1]
		t := &b.routes[len(b.routes)-1]
		t.conn = o
		return t
	}
	b.routes = append(b.routes, routeTarget{conn: o})
	return &b.routes[len(b.routes)-1]
}

func named(names [][]byte, name string) bool {
	for _, n := range names {
		if string(n) == name {
			return true
		}
	}
	return false
}

// pickQueue delivers msg to one member of g (reporting true when that was a
// local member; a picked route or leaf connection is recorded in b for
// sending later). The pick is random among the eligible clients and routes,
// weighted by Weight, so a route entry standing for many members is picked
// as often as that many local members would be. Leaf connections are
// picked (the same way, among themselves) only when no client or route
// member is eligible: nats-server prefers a local member over one across a
// leaf node. A message from another broker goes to local members (and
// leaf connections) only; a no-echo publisher's own members are skipped.
// If the chosen member refuses (it is closing), the next eligible one is
// tried.
func (m *Mux) pickQueue(g *pubsub.QueueGroup[*Sub], from Conn, o origin, msg *Msg, b *Batch) bool {
	local := func(s *Sub) bool {
		own := s.Owner
		if o.noEcho && own == from {
			return false
		}
		switch own.Kind() {
		case Client:
			return true
		case Route:
			return !o.localOnly && o.sendsTo(own, Route) && msg.RoutesMatch()
		}
		return false
	}
	if delivered, picked := m.pickAmong(g, local, from, msg, b); picked || o.localOnly {
		return delivered
	}
	leaf := func(s *Sub) bool { return s.Owner.Kind() == Leaf && msg.Match == nil && o.sendsTo(s.Owner, Leaf) }
	delivered, _ := m.pickAmong(g, leaf, from, msg, b)
	return delivered
}

// pickAmong picks one member of g among those eligible, weighted: it
// reports whether a local member took the message (delivered) and whether
// any member was chosen at all (picked; a route or leaf pick is recorded in
// b).
func (m *Mux) pickAmong(g *pubsub.QueueGroup[*Sub], eligible func(*Sub) bool, from Conn, msg *Msg, b *Batch) (delivered, picked bool) {
	members := g.Members
	total := 0
	for _, s := range members {
		if eligible(s) {
			total += weight(s)
		}
	}
	if total == 0 {
		return false, false
	}
	start := 0
	if slot := m.intn(total); len(members) > 1 {
		for i, s := range members {
			if !eligible(s) {
				continue
			}
			if slot -= weight(s); slot < 0 {
				start = i
				break
			}
		}
	}
	for k := range members {
		s := members[(start+k)%len(members)]
		if !eligible(s) {
			continue
		}
		if s.Owner.Kind() != Client {
			// Routes and leaf connections are sent to after all picks,
			// once each; if one refuses then, the group is picked again
			// among local members.
			t := b.routeTarget(s.Owner)
			t.queues = append(t.queues, g.Name)
			t.groups = append(t.groups, g)
			return false, true
		}
		if m.deliver(s, from, msg, b) {
			return true, true
		}
	}
	return false, true
}

func weight(s *Sub) int {
	if s.Weight > 1 {
		return s.Weight
	}
	return 1
}

// deliver hands msg to s's owner, honouring the auto-unsubscribe limit.
func (m *Mux) deliver(s *Sub, from Conn, msg *Msg, b *Batch) bool {
	if s.Filter != nil && !s.Filter.Admit(s, msg) {
		return false
	}
	if s.Forward != nil {
		return forward(s, from, msg, b)
	}
	max := s.max.Load()
	if max > 0 {
		n := s.delivered.Add(1)
		if n > max {
			return false
		}
		if n == max {
			defer m.expire(s)
		}
	} else {
		s.delivered.Add(1)
	}
	needFlush, ok := s.Owner.Deliver(s, msg)
	if needFlush {
		b.pending = append(b.pending, s.Owner)
	}
	if ok {
		b.Msgs++
		b.Bytes += int64(msg.Size())
	}
	return ok
}

// forward hands msg to s's Forwarder with a nested batch, whose wake-ups
// and counts join b's afterwards.
func forward(s *Sub, from Conn, msg *Msg, b *Batch) bool {
	if msg.Hops >= MaxHops {
		return false
	}
	if b.nested == nil {
		b.nested = &Batch{}
	}
	nb := b.nested
	n := s.Forward.Forward(s, from, msg, nb)
	b.pending = append(b.pending, nb.pending...)
	clear(nb.pending)
	nb.pending = nb.pending[:0]
	b.Msgs += nb.Msgs
	b.Bytes += nb.Bytes
	b.Lookups.Matches += nb.Lookups.Matches
	b.Lookups.Hits += nb.Lookups.Hits
	nb.Msgs, nb.Bytes, nb.Lookups = 0, 0, pubsub.MatchCount{}
	return n > 0
}

func (m *Mux) expire(s *Sub) {
	if m.subs.Remove(s.Subject, s.Queue, s) {
		s.Owner.Expired(s)
	}
}
