package cluster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/gossip"
)

// The reconciler's decisions, step by step: membership events and the time
// are passed in, routes are a fake broker's, and dials are recorded. No
// gossip, no sockets, no sleeps.

// fakeBroker is a Broker whose routes the test sets; it records what the
// reconciler asks of it.
type fakeBroker struct {
	mu       sync.Mutex
	routes   map[string]bool
	closed   []string   // CloseRoute calls, in order
	pushed   [][]string // SetConnectURLs calls, in order
	observer broker.RouteObserver
}

var _ Broker = (*fakeBroker)(nil)

func (f *fakeBroker) SetRouteObserver(o broker.RouteObserver) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observer = o
}

func (f *fakeBroker) RouteIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.routes))
}

func (f *fakeBroker) ConnectRoute(context.Context, string) error {
	return errors.New("fakeBroker: the reconciler dials through its dial function")
}

// CloseRoute records the call; the route goes down at once.
func (f *fakeBroker) CloseRoute(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, id)
	delete(f.routes, id)
}

func (f *fakeBroker) SetWebSocketConnectURLs([]string) {}

func (f *fakeBroker) SetConnectURLs(urls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushed = append(f.pushed, slices.Clone(urls))
}

func (f *fakeBroker) up(id string)   { f.mu.Lock(); f.routes[id] = true; f.mu.Unlock() }
func (f *fakeBroker) down(id string) { f.mu.Lock(); delete(f.routes, id); f.mu.Unlock() }

func (f *fakeBroker) takeClosed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.closed
	f.closed = nil
	return c
}

func (f *fakeBroker) takePushed() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pushed
	f.pushed = nil
	return p
}

// rig is one reconciler on a fake broker and a manual clock.
type rig struct {
	t     *testing.T
	b     *fakeBroker
	r     *reconciler
	now   time.Time
	dials []string // peer ids dial was called for, in order
	kicks int
	logs  *observer.ObservedLogs
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// newRig is a reconciler for the broker with server id self and the given
// client URLs.
func newRig(t *testing.T, self string, own ...string) *rig {
	g := &rig{t: t, b: &fakeBroker{routes: map[string]bool{}}, now: t0}
	dial := func(id, addr string) {
		if want := id + ":6222"; addr != want {
			t.Errorf("dialed %s at %q, want %q", id, addr, want)
		}
		g.dials = append(g.dials, id)
	}
	core, logs := observer.New(zap.DebugLevel)
	g.logs = logs
	g.r = newReconciler(g.b, self, own, zap.New(core), dial, func() { g.kicks++ })
	return g
}

func member(id string, clientURLs ...string) gossip.Member {
	return gossip.Member{Name: "m-" + id, State: gossip.StateAlive, Meta: gossip.Meta{
		ID: id, Name: id, Cluster: "test", RouteURL: "tcp://" + id + ":6222", ClientURLs: clientURLs,
	}}
}

func (g *rig) event(typ gossip.EventType, m gossip.Member) {
	g.r.apply(gossip.Event{Type: typ, Member: m}, g.now)
}

func (g *rig) join(id string, clientURLs ...string) {
	g.event(gossip.EventJoin, member(id, clientURLs...))
}

func (g *rig) advance(d time.Duration) { g.now = g.now.Add(d) }

// reconcile runs one reconcile and returns the peers it dialed and the
// routes it closed.
func (g *rig) reconcile() (dials, closed []string, wake time.Duration) {
	g.dials = nil
	wake = g.r.reconcile(g.now)
	return g.dials, g.b.takeClosed(), wake
}

// expect runs one reconcile and checks its dials and closes.
func (g *rig) expect(dials, closed []string) time.Duration {
	g.t.Helper()
	d, c, wake := g.reconcile()
	if !slices.Equal(d, dials) || !slices.Equal(c, closed) {
		g.t.Fatalf("at +%v: dialed %q and closed %q, want dialed %q and closed %q", g.now.Sub(t0), d, c, dials, closed)
	}
	return wake
}

func (g *rig) dialed(id string, err error) {
	g.r.dialed(id, slices.Contains(g.b.RouteIDs(), id), err, g.now)
}

var (
	none       []string
	errRefused = errors.New("connection refused")
)

func TestReconcileLowerIDDialsAtOnce(t *testing.T) {
	g := newRig(t, "B")
	g.join("C")
	g.join("D")
	if wake := g.expect([]string{"C", "D"}, none); wake != 0 {
		t.Fatalf("wake = %v with no grace running", wake)
	}
	g.expect(none, none) // dials in flight are not repeated
	g.b.up("C")
	g.dialed("C", nil)
	g.expect(none, none) // D still dialing
	g.b.up("D")
	g.dialed("D", nil)
	g.advance(time.Hour)
	g.expect(none, none)
}

func TestReconcileHigherIDWaitsDialGrace(t *testing.T) {
	g := newRig(t, "B")
	g.join("A")
	if wake := g.expect(none, none); wake != DialGrace {
		t.Fatalf("wake = %v, want DialGrace", wake)
	}
	g.advance(DialGrace - time.Millisecond)
	if wake := g.expect(none, none); wake != time.Millisecond {
		t.Fatalf("wake = %v, want the 1ms left of the grace", wake)
	}
	g.advance(time.Millisecond)
	g.expect([]string{"A"}, none)

	// The lower id dials within the grace: the higher one never does.
	g = newRig(t, "B")
	g.join("A")
	g.expect(none, none)
	g.b.up("A")
	g.advance(DialGrace)
	if wake := g.expect(none, none); wake != 0 {
		t.Fatalf("wake = %v for a routed peer", wake)
	}

	// The grace runs from when the peer was first seen alive, not from
	// its last metadata update; the earliest grace sets the wake.
	g = newRig(t, "C")
	g.join("A")
	g.advance(30 * time.Millisecond)
	g.join("B")
	g.event(gossip.EventUpdate, member("A"))
	if wake := g.expect(none, none); wake != DialGrace-30*time.Millisecond {
		t.Fatalf("wake = %v, want A's grace to end first", wake)
	}
	g.advance(DialGrace - 30*time.Millisecond)
	g.expect([]string{"A"}, none)
	g.advance(30 * time.Millisecond)
	g.expect([]string{"B"}, none)
}

// TestReconcileCrossingDials: both ends dialed; the handshake keeps one
// route and fails the other dial. The side whose dial failed sees the route
// up and neither backs off nor dials again.
func TestReconcileCrossingDials(t *testing.T) {
	lo, hi := newRig(t, "A"), newRig(t, "B")
	lo.join("B")
	hi.join("A")
	lo.expect([]string{"B"}, none)
	hi.expect(none, none)
	hi.advance(DialGrace)
	hi.expect([]string{"A"}, none) // A's dial has not landed yet: both in flight
	// The handshake keeps the connection A dialed, on both ends; B's dial
	// fails as a duplicate.
	lo.b.up("B")
	hi.b.up("A")
	lo.dialed("B", nil)
	hi.dialed("A", errors.New("route A:6222: duplicate route"))
	lo.expect(none, none)
	hi.expect(none, none)
	// The route drops at once: both redial at once (the higher id's grace
	// is over), with no backoff from the lost crossing.
	lo.b.down("B")
	hi.b.down("A")
	lo.expect([]string{"B"}, none)
	hi.expect([]string{"A"}, none)
}

func TestReconcileDeadMember(t *testing.T) {
	for _, typ := range []gossip.EventType{gossip.EventDead, gossip.EventLeave} {
		t.Run(typ.String(), func(t *testing.T) {
			g := newRig(t, "B")
			g.join("C")
			g.expect([]string{"C"}, none)
			g.b.up("C")
			g.dialed("C", nil)
			if !g.r.AdmitRoute("C") {
				t.Fatal("a live member's route refused")
			}
			g.event(typ, member("C"))
			if c := g.b.takeClosed(); !slices.Equal(c, []string{"C"}) {
				t.Fatalf("closed %q on the event, want C at once", c)
			}
			if g.r.AdmitRoute("C") {
				t.Fatal("a gone member's inbound route admitted")
			}
			if !g.r.AdmitRoute("X") {
				t.Fatal("a broker gossip has not shown yet refused")
			}
			g.expect(none, none) // not redialed
			// A route that came up anyway (admitted just before the
			// event) is pruned at the next reconcile, not after a grace.
			g.b.up("C")
			g.expect(none, []string{"C"})
			// Back alive: admitted and dialed again.
			g.join("C")
			if !g.r.AdmitRoute("C") {
				t.Fatal("a member back alive refused")
			}
			g.expect([]string{"C"}, none)
		})
	}
}

func TestReconcileGoneRetention(t *testing.T) {
	g := newRig(t, "B")
	g.join("C")
	g.event(gossip.EventDead, member("C"))
	g.b.takeClosed()
	g.advance(goneRetention)
	g.expect(none, none)
	if g.r.AdmitRoute("C") {
		t.Fatal("refusal dropped before goneRetention")
	}
	g.advance(time.Nanosecond)
	g.expect(none, none)
	if !g.r.AdmitRoute("C") {
		t.Fatal("still refused after goneRetention")
	}
}

func TestReconcileUnknownRoutePruned(t *testing.T) {
	g := newRig(t, "B")
	g.b.up("X") // admitted: gossip has not shown X yet
	g.expect(none, none)
	g.advance(unknownGrace)
	g.expect(none, none)
	g.advance(time.Nanosecond)
	g.expect(none, []string{"X"})

	// Gossip confirms the broker within the grace: kept.
	g = newRig(t, "B")
	g.b.up("Y")
	g.expect(none, none)
	g.advance(unknownGrace - time.Millisecond)
	g.join("Y")
	g.advance(time.Hour)
	g.expect(none, none)
}

func TestReconcileBackoff(t *testing.T) {
	g := newRig(t, "B")
	g.join("C")
	g.expect([]string{"C"}, none)
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	for _, backoff := range want {
		g.dialed("C", errRefused)
		g.advance(backoff - time.Nanosecond)
		g.expect(none, none)
		g.advance(time.Nanosecond)
		g.expect([]string{"C"}, none)
	}
	// Success resets it: the next failure waits minBackoff again.
	g.b.up("C")
	g.dialed("C", nil)
	g.b.down("C")
	g.expect([]string{"C"}, none) // the route dropped: redialed at once
	g.dialed("C", errRefused)
	g.advance(minBackoff - time.Nanosecond)
	g.expect(none, none)
	g.advance(time.Nanosecond)
	g.expect([]string{"C"}, none)

	// A bad route URL is not dialed, and looked at again after maxBackoff.
	g = newRig(t, "B")
	m := member("C")
	m.Meta.RouteURL = "tcp://"
	g.event(gossip.EventJoin, m)
	warned := func(want int) {
		t.Helper()
		if n := g.logs.FilterMessage("member has a bad route URL").Len(); n != want {
			t.Fatalf("at +%v: %d warnings of a bad route URL, want %d", g.now.Sub(t0), n, want)
		}
	}
	g.expect(none, none)
	warned(1)
	g.advance(maxBackoff - time.Nanosecond)
	g.expect(none, none)
	warned(1)
	g.advance(time.Nanosecond)
	g.expect(none, none)
	warned(2)
	g.event(gossip.EventUpdate, member("C")) // fixed
	g.advance(maxBackoff)
	g.expect([]string{"C"}, none)
}

func TestReconcileDialOutcomeForGonePeer(t *testing.T) {
	g := newRig(t, "B")
	g.join("C")
	g.expect([]string{"C"}, none)
	g.event(gossip.EventLeave, member("C"))
	g.b.takeClosed()
	g.dialed("C", errRefused) // the dial ends after the member left
	g.join("C")
	g.expect([]string{"C"}, none) // a fresh peer: no backoff carried over
}

func TestReconcileIgnoresSelfAndAnonymous(t *testing.T) {
	g := newRig(t, "B")
	g.join("B")
	g.join("")
	g.event(gossip.EventDead, member("B"))
	g.expect(none, none)
	if !g.r.AdmitRoute("B") || len(g.b.takeClosed()) != 0 {
		t.Fatal("events about this broker itself were applied")
	}
}

func TestReconcileConnectURLs(t *testing.T) {
	g := newRig(t, "B", "nats://b:4222", "quic://b:4223")
	push := func(want ...string) {
		t.Helper()
		g.r.pushConnectURLs()
		got := g.b.takePushed()
		switch {
		case want == nil && len(got) != 0:
			t.Fatalf("pushed %q, want no push (unchanged)", got)
		case want != nil && (len(got) != 1 || !slices.Equal(got[0], want)):
			t.Fatalf("pushed %q, want one push of %q", got, want)
		}
	}
	push("b:4222") // our own, NATS/TCP only
	push()
	g.join("C", "nats://c:4222", "ws://c:8080")
	g.join("D", "nats://d:4222")
	push() // members without a route are not listed
	g.b.up("C")
	push("b:4222", "c:4222")
	push()
	g.b.up("X") // routed, but gossip has not shown it: nothing to list
	push()
	g.b.up("D")
	push("b:4222", "c:4222", "d:4222")
	g.event(gossip.EventUpdate, member("D", "nats://d:4333")) // D's listeners moved
	push("b:4222", "c:4222", "d:4333")
	g.event(gossip.EventDead, member("C"))
	push("b:4222", "d:4333")
	g.b.down("D")
	push("b:4222")
	g.r.setOwnURLs([]string{"nats://b:5222"}) // our listeners moved (RefreshMeta)
	push("b:5222")
	// Two brokers behind one address are listed once.
	g.join("E", "nats://b:5222")
	g.b.up("E")
	push()
}

func TestReconcileRouteChangedKicks(t *testing.T) {
	g := newRig(t, "B")
	var o broker.RouteObserver = g.r
	o.RouteChanged("C", true)
	o.RouteChanged("C", false)
	if g.kicks != 2 {
		t.Fatalf("kicks = %d, want one per route change", g.kicks)
	}
	if g.b.takeClosed() != nil || g.b.takePushed() != nil {
		t.Fatal("a route change acted on the broker by itself")
	}
}

// TestReconcileUnknownGraceRestarts: a route to an unknown broker that
// went down by itself does not use up the grace of its next route.
func TestReconcileUnknownGraceRestarts(t *testing.T) {
	g := newRig(t, "B")
	g.b.up("X")
	g.expect(none, none)
	g.advance(time.Second)
	g.b.down("X")
	g.expect(none, none)
	g.advance(time.Hour)
	g.b.up("X")
	g.expect(none, none)
	g.advance(unknownGrace)
	g.expect(none, none)
	g.advance(time.Nanosecond)
	g.expect(none, []string{"X"})
}
