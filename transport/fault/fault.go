// Package fault is a transport.Transport for tests that wraps another one
// (usually tcp.New()) and can break the connections it makes: drop bytes,
// delay them, cut one direction of a connection or both. It is the route
// counterpart of gossip.Faults: a cluster test puts a *Transport in
// broker.ClusterOptions.Listen.Transport (routes use it to listen and to
// dial), and can then cut a route while gossip stays up.
//
// # Directions
//
// A fault applies to a Direction of a connection, seen from the end this
// Transport made: In is what this end reads (bytes from the peer), Out is
// what it writes (bytes to the peer). Both is In|Out. The other end may be
// wrapped by its own Transport, or not at all.
//
// # Faults
//
// Drop(dir) loses data, as if a middlebox discarded it:
//   - Out: Write reports success and discards the bytes.
//   - In: the bytes are read from the peer (so its writes succeed) and
//     discarded before the caller sees them, including bytes that arrived
//     earlier but were still undelivered (held by a Delay or a Cut).
//
// Only data is dropped: a close or reset still gets through in both
// directions. The peer sees the stream with a hole in it, so a dropped
// connection that is healed is usually a protocol error soon after (a
// route with S2 compression surely is).
//
// Delay(dir, d) adds latency per operation:
//   - Out: each Write is held for d before it is passed on. Writes are
//     serialised, so the connection carries at most one Write per d.
//   - In: each chunk read from the peer is delivered no earlier than d
//     after it arrived.
//
// The larger delay counts when several apply. A delayed Write honours the
// write deadline (it fails with a timeout, having written nothing).
//
// Cut(dir) is a network partition of that direction, with TCP's
// guarantees: nothing is lost, everything is held until the cut heals.
//   - Out: Write blocks, as on a socket whose send buffer is full and whose
//     peer acknowledges nothing (this models the buffer as empty: a real
//     socket would take a few KiB before blocking). It returns when the cut
//     heals (then the bytes go out, in order), at the write deadline (a
//     timeout error, nothing written) or when the connection is closed.
//     A close or CloseWrite is held too: the peer sees no FIN until the cut
//     heals (see Close).
//   - In: the peer's bytes, and its FIN or reset, are not delivered: Read
//     blocks until the cut heals, the read deadline or Close. The peer's
//     writes still succeed while socket buffers last, then block: the
//     half-open connection of a peer whose packets are lost one way.
//   - Dial: while a cut in either direction applies to a connection being
//     dialed, Dial waits (a lost SYN or SYN-ACK) and dials once the cut
//     heals, or fails when its context ends. An accepted connection is
//     already established when Accept returns; cuts apply to it from then.
//
// When several faults apply to one direction, Cut wins over Drop, and Drop
// over Delay.
//
// Cut(Both) is a blackhole. Sever is the other way to cut both directions:
// it closes the connection at once (a reset on TCP, like a crashed
// middlebox or a killed peer): the peer sees the close immediately, and
// this end's Read and Write fail with ErrSevered.
//
// Close while Out is cut closes this end at once (pending and later Read
// and Write fail with net.ErrClosed) but keeps the socket open, so the
// peer does not see the close until the cut heals or the connection is
// severed; Heal on the Transport finishes all such closes.
//
// # Scope
//
// Faults are per connection (Conn.Drop, Conn.Cut, ...) or transport-wide
// rules (Transport.Drop, Transport.Cut, ...) that apply to every present
// and future connection a Match selects, until Rule.Heal. A connection is
// under the union of its own faults and all matching rules. Conn.Heal
// clears the connection's own faults; Transport.Heal clears all rules and
// every connection's own faults.
//
// A fault takes effect from the next Read or Write, and on a Read or Write
// blocked waiting on a fault: a Write already handed to the inner
// connection completes, data a Read receives after the fault began is held
// or dropped. Matches are evaluated on every operation.
//
// # Use
//
//	ft := fault.New(tcp.New())
//	opts.Cluster = &broker.ClusterOptions{Name: "c", Listen: broker.Listener{Transport: ft, Addr: "127.0.0.1:0"}}
//	...
//	heal := fault.CutBetween(ftA, ftB) // the route between A and B, both ways, redials included
//	... wait for !a.HasRoute(b.ID()) ...
//	heal()
//
// Stalled, HeldDials and Dropped show that a fault met traffic, for tests
// that wait on a condition rather than a time. Give each broker its own
// Transport, and Heal it in cleanup after the broker is closed, so closes
// a cut still holds are finished.
//
// # What the wrapper changes
//
// Connections are *Conn, not *net.TCPConn, so code that special-cases TCP
// sockets does not recognise them (in the broker: inline writes and the
// TCP_INFO progress check of slow-consumer detection). Deadlines, Close and
// CloseWrite behave as on the inner connection unless a fault applies.
// Name is the inner transport's name, so the wrapper is invisible in route
// URLs and monitoring.
//
// All methods are safe for concurrent use.
package fault

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/murmurmq/murmur/transport"
)

// Direction is one or both directions of a connection, seen from the end
// this Transport made.
type Direction uint8

const (
	// In is what this end reads: bytes from the peer.
	In Direction = 1 << iota
	// Out is what this end writes: bytes to the peer.
	Out
	// Both is In and Out.
	Both = In | Out
)

// String returns "in", "out", "both" or "none".
func (d Direction) String() string {
	switch d & Both {
	case In:
		return "in"
	case Out:
		return "out"
	case Both:
		return "both"
	}
	return "none"
}

// ErrSevered is the error of Read and Write on a severed connection.
var ErrSevered = errors.New("fault: connection severed")

// faults is a set of faults on one connection.
type faults struct {
	drop, cut         Direction
	delayIn, delayOut time.Duration
}

func (f faults) merge(g faults) faults {
	return faults{
		drop:     f.drop | g.drop,
		cut:      f.cut | g.cut,
		delayIn:  max(f.delayIn, g.delayIn),
		delayOut: max(f.delayOut, g.delayOut),
	}
}

func delays(dir Direction, d time.Duration) faults {
	var f faults
	if dir&In != 0 {
		f.delayIn = d
	}
	if dir&Out != 0 {
		f.delayOut = d
	}
	return f
}

// Match selects connections for a transport-wide rule. It may be called
// for a connection being dialed, which has a Target but no addresses yet.
type Match func(*Conn) bool

// All matches every connection.
func All(*Conn) bool { return true }

// Dialed matches connections this end dialed.
func Dialed(c *Conn) bool { return c.Dialed() }

// Accepted matches connections this end accepted.
func Accepted(c *Conn) bool { return !c.Dialed() }

// Not matches the connections m does not.
func Not(m Match) Match { return func(c *Conn) bool { return !m(c) } }

// RemoteAddr matches connections whose remote address is addr
// ("host:port"), and connections being dialed to addr.
func RemoteAddr(addr string) Match {
	return func(c *Conn) bool {
		if c.Target() == addr {
			return true
		}
		ra := c.RemoteAddr()
		return ra != nil && ra.String() == addr
	}
}

// Peer matches connections whose other end was made by the Transport
// other (dialed by it, or accepted by one of its listeners), judged by
// addresses, so on one host (loopback) only. A connection other accepts is
// recognised from the start; one other dials is recognised once other's
// Dial has connected it, so a rule on this side alone can miss the first
// bytes this side writes on it. CutBetween puts the rule on both sides,
// which closes that gap (other's dial is held instead).
func Peer(other *Transport) Match {
	return func(c *Conn) bool {
		if t := c.Target(); t != "" && other.knows(t) {
			return true
		}
		ra := c.RemoteAddr()
		return ra != nil && other.knows(ra.String())
	}
}

// CutBetween cuts both directions of every present and future connection
// between a and b (as Peer sees them), with a rule on each, and returns
// the function that heals both.
func CutBetween(a, b *Transport) (heal func()) {
	ra := a.Cut(Both, Peer(b))
	rb := b.Cut(Both, Peer(a))
	return func() {
		ra.Heal()
		rb.Heal()
	}
}

// Transport wraps an inner transport.Transport; see the package doc.
type Transport struct {
	inner transport.Transport
	rules atomic.Pointer[[]*Rule] // copy on write

	mu    sync.Mutex
	conns map[*Conn]struct{} // dialing, open, or closed but held open by a cut
	// ends are the local addresses of every connection and listener this
	// transport has had ("*:port" for a listener on all interfaces), for
	// Peer. Never pruned: a closed connection's peer may still be cut.
	ends map[string]struct{}

	opened    atomic.Int64
	dropped   atomic.Int64
	stalled   atomic.Int64
	heldDials atomic.Int64
}

var _ transport.Transport = (*Transport)(nil)

// New wraps inner. It passes everything until a fault is set.
func New(inner transport.Transport) *Transport {
	t := &Transport{inner: inner, conns: make(map[*Conn]struct{}), ends: make(map[string]struct{})}
	t.rules.Store(&[]*Rule{})
	return t
}

// Name implements transport.Transport: the inner transport's name.
func (t *Transport) Name() string { return t.inner.Name() }

// Listen implements transport.Transport: the inner listener, whose
// accepted connections are wrapped.
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	ln, err := t.inner.Listen(addr)
	if err != nil {
		return nil, err
	}
	t.remember(ln.Addr())
	return &listener{Listener: ln, t: t}, nil
}

// Dial implements transport.Transport. While a cut applies to the
// connection being dialed, it waits before dialing (see the package doc).
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c := t.newConn(true, addr)
	t.add(c)
	for held := false; ; {
		ch := c.changed()
		if c.state().cut == 0 {
			if held {
				t.heldDials.Add(-1)
			}
			break
		}
		if !held {
			held = true
			t.stalled.Add(1)
			t.heldDials.Add(1)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.heldDials.Add(-1)
			t.remove(c)
			return nil, &net.OpError{Op: "dial", Net: t.Name(), Addr: stringAddr(addr), Err: ctx.Err()}
		}
	}
	inner, err := t.inner.Dial(ctx, addr)
	if err != nil {
		t.remove(c)
		return nil, err
	}
	c.connected(inner)
	t.remember(inner.LocalAddr())
	t.opened.Add(1)
	return c, nil
}

// Conns returns the open connections that match m (All for every one).
func (t *Transport) Conns(m Match) []*Conn {
	t.mu.Lock()
	cs := make([]*Conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	out := cs[:0]
	for _, c := range cs {
		if c.open() && m(c) {
			out = append(out, c)
		}
	}
	return out
}

// Opened is how many connections the transport has made (dialed and
// accepted) so far.
func (t *Transport) Opened() int64 { return t.opened.Load() }

// Dropped is how many bytes Drop has discarded so far, over all
// connections and both directions.
func (t *Transport) Dropped() int64 { return t.dropped.Load() }

// Stalled is how many times a Read, Write, Dial or Close found a cut in
// its way so far: proof that a cut met traffic.
func (t *Transport) Stalled() int64 { return t.stalled.Load() }

// HeldDials is how many Dials a cut is holding right now.
func (t *Transport) HeldDials() int { return int(t.heldDials.Load()) }

// Rule is a transport-wide fault; see Transport.Drop.
type Rule struct {
	t     *Transport
	f     faults
	match Match
}

// Drop drops dir of the connections m matches (see the package doc) until
// the rule is healed.
func (t *Transport) Drop(dir Direction, m Match) *Rule {
	return t.addRule(faults{drop: dir & Both}, m)
}

// Delay delays dir of the connections m matches by d per operation until
// the rule is healed.
func (t *Transport) Delay(dir Direction, d time.Duration, m Match) *Rule {
	return t.addRule(delays(dir, d), m)
}

// Cut cuts dir of the connections m matches, and holds dials they would
// make, until the rule is healed.
func (t *Transport) Cut(dir Direction, m Match) *Rule {
	return t.addRule(faults{cut: dir & Both}, m)
}

func (t *Transport) addRule(f faults, m Match) *Rule {
	r := &Rule{t: t, f: f, match: m}
	t.mu.Lock()
	old := *t.rules.Load()
	rs := append(append(make([]*Rule, 0, len(old)+1), old...), r)
	t.rules.Store(&rs)
	t.mu.Unlock()
	t.update()
	return r
}

// Heal removes the rule; connections keep their other faults. Healing a
// rule twice is harmless.
func (r *Rule) Heal() {
	t := r.t
	t.mu.Lock()
	old := *t.rules.Load()
	rs := make([]*Rule, 0, len(old))
	for _, o := range old {
		if o != r {
			rs = append(rs, o)
		}
	}
	t.rules.Store(&rs)
	t.mu.Unlock()
	t.update()
}

// Heal removes every rule and every connection's own faults, and finishes
// the closes a cut was holding.
func (t *Transport) Heal() {
	t.mu.Lock()
	t.rules.Store(&[]*Rule{})
	cs := make([]*Conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		c.own = faults{}
		c.mu.Unlock()
	}
	t.update()
}

// Sever severs the open connections m matches (see Conn.Sever) and
// returns how many.
func (t *Transport) Sever(m Match) int {
	cs := t.Conns(m)
	for _, c := range cs {
		c.Sever()
	}
	return len(cs)
}

// update wakes every connection to re-evaluate its faults after a change.
func (t *Transport) update() {
	t.mu.Lock()
	cs := make([]*Conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.update()
	}
}

func (t *Transport) add(c *Conn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *Transport) remove(c *Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

func (t *Transport) remember(a net.Addr) {
	if a == nil {
		return
	}
	key := a.String()
	if host, port, err := net.SplitHostPort(key); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			key = "*:" + port
		}
	}
	t.mu.Lock()
	t.ends[key] = struct{}{}
	t.mu.Unlock()
}

// knows reports whether addr is the local address of one of t's
// connections or listeners.
func (t *Transport) knows(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.ends[addr]; ok {
		return true
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		_, ok := t.ends["*:"+port]
		return ok
	}
	return false
}

func (t *Transport) newConn(dialed bool, target string) *Conn {
	return &Conn{t: t, dialed: dialed, target: target, ch: make(chan struct{})}
}

type listener struct {
	transport.Listener
	t *Transport
}

func (l *listener) Accept() (net.Conn, error) {
	inner, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := l.t.newConn(false, "")
	c.connected(inner)
	l.t.remember(inner.LocalAddr())
	l.t.add(c)
	l.t.opened.Add(1)
	return c, nil
}

type stringAddr string

func (a stringAddr) Network() string { return "fault" }
func (a stringAddr) String() string  { return string(a) }
