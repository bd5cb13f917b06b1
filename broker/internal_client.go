package broker

import (
	"errors"
	"strconv"
	"sync"

	"github.com/murmurmq/murmur/mux"
)

// An InternalClient is a connection without a socket in one account, for
// a service inside the process (JetStream) to subscribe and publish like a
// client does. Its subscriptions are in the account's index and their
// interest reaches routes; what it publishes goes through the account's
// multiplexor like any client's message.
type InternalClient struct {
	srv     *Server
	acc     *account
	handler InternalHandler
	onFlush func() // SetBatchHandler

	mu     sync.Mutex
	closed bool
	next   int
	subs   map[int]*mux.Sub
	scopes map[int]Scope // subscriptions not in ScopeAll (internal_scope.go)
}

// InternalHandler receives the messages of an internal client's
// subscription sub. It runs on the publisher's goroutine: the slices are
// only valid during the call, and it must not block or publish (queue the
// work and return).
type InternalHandler func(sub int, subject, reply string, hdr, payload []byte)

// ErrNoAccount is returned for an account the server does not have.
var ErrNoAccount = errors.New("broker: no such account")

// NewInternalClient returns an internal client in account (the global
// account $G when there are no accounts). Close it to drop its
// subscriptions.
func (s *Server) NewInternalClient(account string, h InternalHandler) (*InternalClient, error) {
	acc := s.account(account)
	if acc == nil {
		return nil, ErrNoAccount
	}
	return &InternalClient{srv: s, acc: acc, handler: h, subs: map[int]*mux.Sub{}}, nil
}

// AccountNames lists the server's accounts except the system account, by
// name.
func (s *Server) AccountNames() []string {
	var out []string
	for _, a := range s.accountList() {
		if a != s.sysacc {
			out = append(out, a.name)
		}
	}
	return out
}

// SetBatchHandler has the client's messages go to queue instead of its
// handler, and every publisher whose read delivered one call flush on its
// own goroutine once that read is processed (mux.Batch.Flush), with no
// lock held: the service may then do the read's work there instead of
// waking a goroutine of its own (jetstream/inline.go). queue has the
// handler's rules. Call it before Subscribe.
func (c *InternalClient) SetBatchHandler(queue InternalHandler, flush func()) {
	c.handler, c.onFlush = queue, flush
}

// Subscribe adds a subscription and returns its id, which the handler is
// given with each message.
func (c *InternalClient) Subscribe(subject string) (int, error) {
	return c.SubscribeScoped(subject, ScopeAll)
}

// SubscribeScoped is Subscribe with the interest told only where scope
// says (internal_scope.go).
func (c *InternalClient) SubscribeScoped(subject string, scope Scope) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errors.New("broker: internal client closed")
	}
	c.next++
	id := c.next
	sub := &mux.Sub{Subject: subject, SID: []byte(strconv.Itoa(id)), Owner: &internalConn{c: c, id: id}}
	if err := c.acc.mux.Subscribe(sub); err != nil {
		return 0, err
	}
	c.setScopeLocked(id, scope)
	c.srv.scopedInterest(c.acc, sub, +1, scope)
	c.subs[id] = sub
	return id, nil
}

// Unsubscribe removes subscription id (no-op when unknown).
func (c *InternalClient) Unsubscribe(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sub := c.subs[id]; sub != nil {
		delete(c.subs, id)
		if c.acc.mux.Unsubscribe(sub) {
			c.srv.scopedInterest(c.acc, sub, -1, c.scopes[id])
		}
		delete(c.scopes, id)
	}
}

// Publish sends a message on subject in the client's account. When
// deliverTo is set, subscriptions are matched on it instead while the
// subscribers see subject (a stored message delivered to a consumer's
// inbox); such a message stays on this broker.
func (c *InternalClient) Publish(subject, deliverTo, reply string, hdr, payload []byte) {
	var b mux.Batch
	c.publish(&b, subject, deliverTo, reply, hdr, payload)
	c.flush(&b)
}

func (c *InternalClient) publish(b *mux.Batch, subject, deliverTo, reply string, hdr, payload []byte) {
	m := mux.Msg{Subject: []byte(subject), Header: hdr, Payload: payload, Account: c.acc.name}
	if reply != "" {
		m.Reply = []byte(reply)
	}
	if deliverTo != "" {
		m.Match = []byte(deliverTo)
	}
	c.acc.mux.Publish(nil, &m, b)
}

func (c *InternalClient) flush(b *mux.Batch) {
	b.Flush()
	c.srv.stats.outMsgs.Add(b.Msgs)
	c.srv.stats.outBytes.Add(b.Bytes)
}

// PublishEach publishes n messages, msg(i) giving the i-th with Publish's
// arguments, in order, and flushes each connection they reached once at
// the end: a batch of PubAcks or deliveries to one client costs one write,
// not one per message. msg's slices need only be valid during its call's
// publish.
func (c *InternalClient) PublishEach(n int, msg func(i int) (subject, deliverTo, reply string, hdr, payload []byte)) {
	var b mux.Batch
	for i := range n {
		subject, deliverTo, reply, hdr, payload := msg(i)
		c.publish(&b, subject, deliverTo, reply, hdr, payload)
	}
	c.flush(&b)
}

// Close drops every subscription. Further calls are no-ops.
func (c *InternalClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for id, sub := range c.subs {
		if c.acc.mux.Unsubscribe(sub) {
			c.srv.scopedInterest(c.acc, sub, -1, c.scopes[id])
		}
		delete(c.subs, id)
		delete(c.scopes, id)
	}
}

// internalConn is the mux.Conn owning one internal subscription.
type internalConn struct {
	c  *InternalClient
	id int
}

var _ mux.Conn = (*internalConn)(nil)

func (ic *internalConn) Kind() mux.Kind   { return mux.Client }
func (ic *internalConn) NoEcho() bool     { return false }
func (ic *internalConn) Expired(*mux.Sub) {}

// Flush runs the batch handler's flush (SetBatchHandler).
func (ic *internalConn) Flush() {
	if ic.c.onFlush != nil {
		ic.c.onFlush()
	}
}

func (ic *internalConn) Deliver(_ *mux.Sub, m *mux.Msg) (needFlush, ok bool) {
	ic.c.handler(ic.id, string(m.Subject), string(m.Reply), m.Header, m.Payload)
	return ic.c.onFlush != nil, true
}
