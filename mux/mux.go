// Package mux is the multiplexor: it decides, for one published message,
// which subscriptions and routes receive it, and hands it to their owners.
// It is the fan-out core: no goroutines and no sockets of its own; owners
// (client connections, routes) queue what they are given and write it on
// their own goroutines.
package mux

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/murmurmq/murmur/pubsub"
)

// Kind tells clients from routes. Messages that arrive over a route are
// delivered to clients only (one hop); messages from clients also go to each
// interested route, once per route.
type Kind uint8

// Owner kinds.
const (
	Client Kind = iota
	Route
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
	// message's own subject. Such a message is not sent over routes.
	Match []byte
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
// echo, and, when from is a client, once to each route with interest. It
// returns the number of deliveries made.
func (m *Mux) Publish(from Conn, msg *Msg, b *Batch) int {
	key := msg.Subject
	if msg.Match != nil {
		key = msg.Match
	}
	r := m.subs.MatchCounted(key, &b.Lookups)
	if r.Empty() {
		return 0
	}
	fromRoute := from != nil && from.Kind() == Route
	noEcho := from != nil && from.NoEcho()
	n := 0
	b.routes = b.routes[:0]
	for _, s := range r.Plain {
		o := s.Owner
		if noEcho && o == from {
			continue
		}
		if o.Kind() == Route {
			if !fromRoute && msg.Match == nil {
				b.routeTarget(o)
			}
			continue
		}
		if m.deliver(s, from, msg, b) {
			n++
		}
	}
	for i := range r.Queues {
		if fromRoute && !named(msg.Queues, r.Queues[i].Name) {
			// The sending broker made the pick for this group elsewhere.
			continue
		}
		if m.pickQueue(&r.Queues[i], from, fromRoute, noEcho, msg, b) {
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
			// The route is closing: give its groups to local members.
			for _, g := range t.groups {
				if m.pickQueue(g, from, true, noEcho, msg, b) {
					n++
				}
			}
		}
		clear(t.groups)
		t.conn, t.queues, t.groups = nil, t.queues[:0], t.groups[:0]
	}
	return n
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
// local member; a picked route is recorded in b for sending later), chosen at random among the
// eligible members and weighted by Weight, so a remote entry standing for
// many members is picked as often as that many local members would be. A
// message that came over a route goes to local members only; a no-echo
// publisher's own members are skipped. If the chosen member refuses (it is
// closing), the next eligible one is tried.
func (m *Mux) pickQueue(g *pubsub.QueueGroup[*Sub], from Conn, fromRoute, noEcho bool, msg *Msg, b *Batch) bool {
	members := g.Members
	eligible := func(s *Sub) bool {
		o := s.Owner
		return !(noEcho && o == from) && !(fromRoute && o.Kind() == Route)
	}
	total := 0
	for _, s := range members {
		if eligible(s) {
			total += weight(s)
		}
	}
	if total == 0 {
		return false
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
		if s.Owner.Kind() == Route {
			// Routes are sent to after all picks, once each; if the route
			// refuses then, the group is picked again among local members.
			t := b.routeTarget(s.Owner)
			t.queues = append(t.queues, g.Name)
			t.groups = append(t.groups, g)
			return false
		}
		if m.deliver(s, from, msg, b) {
			return true
		}
	}
	return false
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
