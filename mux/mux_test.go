package mux_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/murmurmq/murmur/mux"
)

// fakeConn is an in-memory owner that records what the mux hands it. Like a
// real owner it asks to be flushed on the first delivery after a flush.
type fakeConn struct {
	name   string
	kind   mux.Kind
	noEcho bool
	refuse bool // Deliver/DeliverRouted report ok = false (closing)

	mu        sync.Mutex
	delivered []delivery
	routed    []routedMsg
	armed     bool // a flush was asked for and has not happened yet
	flushes   int
	expired   []*mux.Sub
}

type delivery struct {
	sub     *mux.Sub
	subject string
	payload string
}

type routedMsg struct {
	subject string
	queues  []string
}

func newClient(name string) *fakeConn { return &fakeConn{name: name, kind: mux.Client} }
func newRoute(name string) *fakeConn  { return &fakeConn{name: name, kind: mux.Route} }

func (c *fakeConn) Kind() mux.Kind { return c.kind }
func (c *fakeConn) NoEcho() bool   { return c.noEcho }

func (c *fakeConn) Deliver(sub *mux.Sub, msg *mux.Msg) (needFlush, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kind == mux.Route {
		panic("Deliver called on a route; routes get DeliverRouted")
	}
	if c.refuse {
		return false, false
	}
	c.delivered = append(c.delivered, delivery{sub, string(msg.Subject), string(msg.Payload)})
	needFlush, c.armed = !c.armed, true
	return needFlush, true
}

func (c *fakeConn) DeliverRouted(msg *mux.Msg, queues []string) (needFlush, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kind != mux.Route {
		panic("DeliverRouted called on a client")
	}
	if c.refuse {
		return false, false
	}
	c.routed = append(c.routed, routedMsg{string(msg.Subject), slices.Clone(queues)})
	needFlush, c.armed = !c.armed, true
	return needFlush, true
}

func (c *fakeConn) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
	c.armed = false
}

func (c *fakeConn) Expired(sub *mux.Sub) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expired = append(c.expired, sub)
}

func (c *fakeConn) count(sub *mux.Sub) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, d := range c.delivered {
		if d.sub == sub {
			n++
		}
	}
	return n
}

func subscribe(t testing.TB, m *mux.Mux, owner mux.Conn, subject, queue string, weight int) *mux.Sub {
	t.Helper()
	s := &mux.Sub{Subject: subject, Queue: queue, SID: []byte(subject + "/" + queue), Owner: owner, Weight: weight}
	if err := m.Subscribe(s); err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", subject, queue, err)
	}
	return s
}

func msg(subject, payload string) *mux.Msg {
	return &mux.Msg{Subject: []byte(subject), Payload: []byte(payload)}
}

func TestPublishFanOut(t *testing.T) {
	m := mux.New()
	a, b, c, pub := newClient("a"), newClient("b"), newClient("c"), newClient("pub")
	sa := subscribe(t, m, a, "orders.new", "", 0)
	sb1 := subscribe(t, m, b, "orders.*", "", 0)
	sb2 := subscribe(t, m, b, "orders.>", "", 0) // two matching subs: two deliveries
	sc := subscribe(t, m, c, "other", "", 0)

	var batch mux.Batch
	n := m.Publish(pub, msg("orders.new", "hello"), &batch)
	if n != 3 {
		t.Errorf("Publish = %d deliveries, want 3", n)
	}
	for _, tc := range []struct {
		c    *fakeConn
		s    *mux.Sub
		want int
	}{{a, sa, 1}, {b, sb1, 1}, {b, sb2, 1}, {c, sc, 0}} {
		if got := tc.c.count(tc.s); got != tc.want {
			t.Errorf("%s/%s got %d messages, want %d", tc.c.name, tc.s.Subject, got, tc.want)
		}
	}
	if d := a.delivered[0]; d.subject != "orders.new" || d.payload != "hello" {
		t.Errorf("a got %+v", d)
	}
	if batch.Msgs != 3 || batch.Bytes != 15 {
		t.Errorf("batch counted %d msgs / %d bytes, want 3 / 15", batch.Msgs, batch.Bytes)
	}
	if sa.Delivered() != 1 {
		t.Errorf("Delivered = %d, want 1", sa.Delivered())
	}
	if n := m.Publish(pub, msg("nobody.listens", "x"), &batch); n != 0 {
		t.Errorf("Publish with no interest = %d, want 0", n)
	}
	if n := m.Publish(nil, msg("other", "x"), &batch); n != 1 {
		t.Errorf("Publish from nil (internal) = %d, want 1", n)
	}
}

func TestMsgSize(t *testing.T) {
	m := &mux.Msg{Header: []byte("NATS/1.0\r\n\r\n"), Payload: []byte("abc")}
	if m.Size() != 15 {
		t.Errorf("Size = %d, want 15", m.Size())
	}
}

func TestSubscribeInvalid(t *testing.T) {
	m := mux.New()
	for _, subj := range []string{"", "foo..bar", "foo.>.bar", "a b"} {
		if err := m.Subscribe(&mux.Sub{Subject: subj, Owner: newClient("x")}); err == nil {
			t.Errorf("Subscribe(%q) accepted", subj)
		}
	}
	s := subscribe(t, m, newClient("x"), "ok", "", 0)
	if !m.Unsubscribe(s) || m.Unsubscribe(s) {
		t.Errorf("Unsubscribe: want true then false")
	}
	if m.Index().Count() != 0 {
		t.Errorf("Count = %d, want 0", m.Index().Count())
	}
}

// TestQueueGroupOneMember: each message goes to exactly one member of each
// group, spread roughly evenly, while plain subscribers get every message.
func TestQueueGroupOneMember(t *testing.T) {
	m := mux.New()
	const members, msgs = 4, 4000
	var workers []*mux.Sub
	conns := make([]*fakeConn, members)
	for i := range conns {
		conns[i] = newClient(fmt.Sprint("w", i))
		pattern := []string{"jobs.run", "jobs.*", "jobs.>", ">"}[i] // one group across patterns
		workers = append(workers, subscribe(t, m, conns[i], pattern, "workers", 0))
	}
	other := newClient("audit")
	audit := subscribe(t, m, other, "jobs.run", "audit", 0)
	plain := newClient("plain")
	ps := subscribe(t, m, plain, "jobs.*", "", 0)

	pub := newClient("pub")
	var batch mux.Batch
	for range msgs {
		if n := m.Publish(pub, msg("jobs.run", "x"), &batch); n != 3 {
			t.Fatalf("Publish = %d, want 3 (one worker, audit, plain)", n)
		}
	}
	total := 0
	for i, s := range workers {
		got := conns[i].count(s)
		total += got
		// Expect msgs/members = 1000 each; a binomial sd is about 27.
		if got < msgs/members*8/10 || got > msgs/members*12/10 {
			t.Errorf("member %d got %d of %d messages, want about %d", i, got, msgs, msgs/members)
		}
	}
	if total != msgs {
		t.Errorf("workers got %d messages in all, want %d", total, msgs)
	}
	if got := other.count(audit); got != msgs {
		t.Errorf("single-member group got %d, want %d", got, msgs)
	}
	if got := plain.count(ps); got != msgs {
		t.Errorf("plain subscriber got %d, want %d", got, msgs)
	}
}

// TestQueueGroupWeighted: a remote entry with Weight w is picked as often as
// w local members would be.
func TestQueueGroupWeighted(t *testing.T) {
	m := mux.New()
	local := newClient("local")
	ls := subscribe(t, m, local, "task", "g", 0) // weight 0 counts as 1
	r1, r2 := newRoute("r1"), newRoute("r2")
	subscribe(t, m, r1, "task", "g", 3)
	subscribe(t, m, r2, "task", "g", 6)

	pub := newClient("pub")
	var batch mux.Batch
	const msgs = 10_000
	for range msgs {
		m.Publish(pub, msg("task", "x"), &batch)
	}
	got := map[string]int{"local": local.count(ls), "r1": len(r1.routed), "r2": len(r2.routed)}
	want := map[string]int{"local": msgs / 10, "r1": msgs * 3 / 10, "r2": msgs * 6 / 10}
	if got["local"]+got["r1"]+got["r2"] != msgs {
		t.Errorf("deliveries %v do not add up to %d", got, msgs)
	}
	for k, w := range want {
		// sd is at most about 50 here; allow 5 sd.
		if d := got[k] - w; d < -250 || d > 250 {
			t.Errorf("%s picked %d times, want about %d (all: %v)", k, got[k], w, got)
		}
	}
	for _, r := range []*fakeConn{r1, r2} {
		for _, rm := range r.routed {
			if !slices.Equal(rm.queues, []string{"g"}) {
				t.Fatalf("%s got queues %q, want [g]", r.name, rm.queues)
			}
		}
	}
}

func TestNoEcho(t *testing.T) {
	for _, noEcho := range []bool{false, true} {
		t.Run(fmt.Sprint("noEcho=", noEcho), func(t *testing.T) {
			m := mux.New()
			self, other := newClient("self"), newClient("other")
			self.noEcho = noEcho
			own := subscribe(t, m, self, "chat", "", 0)
			theirs := subscribe(t, m, other, "chat", "", 0)
			ownQ := subscribe(t, m, self, "chat", "solo", 0) // a group with only the publisher

			var batch mux.Batch
			const msgs = 50
			for range msgs {
				m.Publish(self, msg("chat", "hi"), &batch)
			}
			wantOwn := msgs
			if noEcho {
				wantOwn = 0
			}
			if got := self.count(own); got != wantOwn {
				t.Errorf("own plain sub got %d, want %d", got, wantOwn)
			}
			if got := self.count(ownQ); got != wantOwn {
				t.Errorf("own queue sub got %d, want %d", got, wantOwn)
			}
			if got := other.count(theirs); got != msgs {
				t.Errorf("other sub got %d, want %d", got, msgs)
			}
		})
	}
	// With no echo, a group member of someone else is always picked.
	m := mux.New()
	self, other := newClient("self"), newClient("other")
	self.noEcho = true
	subscribe(t, m, self, "q", "g", 5)
	os := subscribe(t, m, other, "q", "g", 0)
	var batch mux.Batch
	for range 100 {
		if n := m.Publish(self, msg("q", ""), &batch); n != 1 {
			t.Fatalf("Publish = %d, want 1", n)
		}
	}
	if got := other.count(os); got != 100 {
		t.Errorf("other member got %d, want all 100", got)
	}
}

// TestRouteOncePerMessage: a client's message goes to each interested route
// once, however many of the route's subscriptions match, carrying the names
// of the groups the route was picked for.
func TestRouteOncePerMessage(t *testing.T) {
	m := mux.New()
	r1, r2, r3 := newRoute("r1"), newRoute("r2"), newRoute("r3")
	subscribe(t, m, r1, "a.b", "", 0)
	subscribe(t, m, r1, "a.*", "", 0)
	subscribe(t, m, r1, ">", "", 0)
	subscribe(t, m, r2, "a.>", "", 0)
	subscribe(t, m, r3, "x.y", "", 0) // no interest in a.b
	// Groups whose only member is r1: r1 must get one message naming both.
	subscribe(t, m, r1, "a.b", "g", 0)
	subscribe(t, m, r1, "a.*", "h", 0)
	// A group only r2 serves, r2 having no plain interest in it.
	subscribe(t, m, r2, "a.b", "k", 0)
	local := newClient("local")
	ls := subscribe(t, m, local, "a.b", "", 0)

	var batch mux.Batch
	for i := range 3 {
		m.Publish(newClient("pub"), msg("a.b", fmt.Sprint(i)), &batch)
	}
	if len(r1.routed) != 3 || len(r2.routed) != 3 || len(r3.routed) != 0 {
		t.Fatalf("routed counts r1=%d r2=%d r3=%d, want 3 3 0", len(r1.routed), len(r2.routed), len(r3.routed))
	}
	for _, rm := range r1.routed {
		if q := slices.Sorted(slices.Values(rm.queues)); !slices.Equal(q, []string{"g", "h"}) {
			t.Errorf("r1 got queues %q, want [g h]", rm.queues)
		}
	}
	for _, rm := range r2.routed {
		if !slices.Equal(rm.queues, []string{"k"}) {
			t.Errorf("r2 got queues %q, want [k]", rm.queues)
		}
	}
	if got := local.count(ls); got != 3 {
		t.Errorf("local sub got %d, want 3", got)
	}
}

// TestRouteOriginated: a message from a route is delivered to local clients
// only (one hop), and to local queue groups only when the sender named them.
func TestRouteOriginated(t *testing.T) {
	m := mux.New()
	from, other := newRoute("from"), newRoute("other")
	subscribe(t, m, from, "ev", "", 0)
	subscribe(t, m, other, "ev", "", 0)
	subscribe(t, m, other, "ev", "named", 100) // remote member: never picked for a routed message
	c1, c2, c3 := newClient("c1"), newClient("c2"), newClient("c3")
	plain := subscribe(t, m, c1, "ev", "", 0)
	named := subscribe(t, m, c2, "ev", "named", 0)
	unnamed := subscribe(t, m, c3, "ev", "unnamed", 0)

	var batch mux.Batch
	rm := msg("ev", "p")
	rm.Queues = [][]byte{[]byte("named"), []byte("absent")}
	for range 20 {
		if n := m.Publish(from, rm, &batch); n != 2 {
			t.Fatalf("Publish = %d, want 2 (plain + named group)", n)
		}
	}
	if len(from.routed) != 0 || len(other.routed) != 0 {
		t.Errorf("routed message went back to routes: from=%d other=%d", len(from.routed), len(other.routed))
	}
	if got := c1.count(plain); got != 20 {
		t.Errorf("plain client got %d, want 20", got)
	}
	if got := c2.count(named); got != 20 {
		t.Errorf("named group's local member got %d, want 20 (the remote weight-100 entry must not be picked)", got)
	}
	if got := c3.count(unnamed); got != 0 {
		t.Errorf("group not named by the sender got %d, want 0", got)
	}
	// No queue names: no group delivery at all.
	if n := m.Publish(from, msg("ev", "p"), &batch); n != 1 {
		t.Errorf("Publish without queue names = %d, want 1", n)
	}
}

// TestQueueRefusedMemberSkipped: a member that refuses (closing) does not
// swallow the message: another member gets it.
func TestQueueRefusedMemberSkipped(t *testing.T) {
	m := mux.New()
	closing, alive := newClient("closing"), newClient("alive")
	closing.refuse = true
	subscribe(t, m, closing, "q", "g", 0)
	as := subscribe(t, m, alive, "q", "g", 0)
	var batch mux.Batch
	for range 100 {
		if n := m.Publish(nil, msg("q", ""), &batch); n != 1 {
			t.Fatalf("Publish = %d, want 1", n)
		}
	}
	if got := alive.count(as); got != 100 {
		t.Errorf("alive member got %d, want 100", got)
	}
	// All members refusing: nothing delivered, nothing counted.
	alive.refuse = true
	if n := m.Publish(nil, msg("q", ""), &batch); n != 0 {
		t.Errorf("Publish to refusing members = %d, want 0", n)
	}
	if batch.Msgs != 100 {
		t.Errorf("batch counted %d msgs, want 100", batch.Msgs)
	}
}

// TestAutoUnsubscribe: with SetMax(n) a subscription gets exactly n messages,
// is removed from the index, and its owner is told once.
func TestAutoUnsubscribe(t *testing.T) {
	m := mux.New()
	c := newClient("c")
	s := subscribe(t, m, c, "tick", "", 0)
	keep := subscribe(t, m, c, "tick", "", 0)
	if !s.SetMax(3) {
		t.Fatal("SetMax(3) on a fresh sub = false")
	}
	var batch mux.Batch
	for range 10 {
		m.Publish(nil, msg("tick", ""), &batch)
	}
	if got := c.count(s); got != 3 {
		t.Errorf("limited sub got %d, want 3", got)
	}
	if got := c.count(keep); got != 10 {
		t.Errorf("unlimited sub got %d, want 10", got)
	}
	if len(c.expired) != 1 || c.expired[0] != s {
		t.Errorf("Expired called %d times (%v), want once for the limited sub", len(c.expired), c.expired)
	}
	if m.Unsubscribe(s) {
		t.Error("expired sub still in the index")
	}
	if m.Index().Count() != 1 {
		t.Errorf("Count = %d, want 1", m.Index().Count())
	}

	// SetMax at or below what was delivered already: the caller must remove.
	s2 := subscribe(t, m, c, "tock", "", 0)
	m.Publish(nil, msg("tock", ""), &batch)
	m.Publish(nil, msg("tock", ""), &batch)
	if s2.SetMax(2) || s2.SetMax(1) {
		t.Error("SetMax at or below Delivered() = true, want false")
	}
	if !s2.SetMax(3) || !s2.SetMax(0) {
		t.Error("SetMax above Delivered() or 0 = false, want true")
	}
	// Even if the caller does not remove it, it gets nothing more.
	s2.SetMax(1)
	m.Publish(nil, msg("tock", ""), &batch)
	if got := c.count(s2); got != 2 {
		t.Errorf("sub past its max got %d messages, want the 2 from before", got)
	}
	if r := m.Match([]byte("tock")); len(r.Plain) != 1 || r.Plain[0] != s2 {
		t.Errorf("Match(tock) = %+v, want the one sub", r)
	}

	// A limited queue member leaves the group when done; the rest carry on.
	qa, qb := newClient("qa"), newClient("qb")
	sa := subscribe(t, m, qa, "work", "g", 0)
	sb := subscribe(t, m, qb, "work", "g", 0)
	sa.SetMax(5)
	for range 200 {
		if n := m.Publish(nil, msg("work", ""), &batch); n != 1 {
			t.Fatalf("Publish to group = %d, want 1", n)
		}
	}
	if got := qa.count(sa); got != 5 {
		t.Errorf("limited member got %d, want 5", got)
	}
	if got := qb.count(sb); got != 195 {
		t.Errorf("other member got %d, want 195", got)
	}
	if len(qa.expired) != 1 {
		t.Errorf("limited member expired %d times, want 1", len(qa.expired))
	}
}

// TestAutoUnsubscribeConcurrent: publishers racing on one limited sub still
// deliver exactly max and expire it once.
func TestAutoUnsubscribeConcurrent(t *testing.T) {
	m := mux.New()
	c := newClient("c")
	s := subscribe(t, m, c, "race", "", 0)
	const max = 50
	s.SetMax(max)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var batch mux.Batch
			for range 100 {
				m.Publish(nil, msg("race", ""), &batch)
				batch.Flush()
			}
		})
	}
	wg.Wait()
	if got := c.count(s); got != max {
		t.Errorf("delivered %d, want exactly %d", got, max)
	}
	if len(c.expired) != 1 {
		t.Errorf("Expired called %d times, want 1", len(c.expired))
	}
}

// TestBatchFlush: owners are woken only at Flush, once each per batch, and
// only those that asked.
func TestBatchFlush(t *testing.T) {
	m := mux.New()
	a, b, idle, r := newClient("a"), newClient("b"), newClient("idle"), newRoute("r")
	subscribe(t, m, a, "x", "", 0)
	subscribe(t, m, a, "x.>", "", 0)
	subscribe(t, m, b, "x", "", 0)
	subscribe(t, m, idle, "y", "", 0)
	subscribe(t, m, r, "x", "", 0)

	var batch mux.Batch
	for range 10 {
		m.Publish(nil, msg("x", ""), &batch)
		m.Publish(nil, msg("x.1", ""), &batch)
	}
	for _, c := range []*fakeConn{a, b, r, idle} {
		if c.flushes != 0 {
			t.Fatalf("%s flushed before Batch.Flush", c.name)
		}
	}
	batch.Flush()
	for c, want := range map[*fakeConn]int{a: 1, b: 1, r: 1, idle: 0} {
		if c.flushes != want {
			t.Errorf("%s flushed %d times, want %d", c.name, c.flushes, want)
		}
	}
	batch.Flush() // nothing pending: no more wake-ups
	if a.flushes != 1 {
		t.Errorf("second Flush woke a again")
	}
	m.Publish(nil, msg("x", ""), &batch)
	batch.Flush()
	if a.flushes != 2 || b.flushes != 2 || r.flushes != 2 || idle.flushes != 0 {
		t.Errorf("after another batch: flushes a=%d b=%d r=%d idle=%d, want 2 2 2 0", a.flushes, b.flushes, r.flushes, idle.flushes)
	}
}

// benchConn is an owner that only counts.
type benchConn struct{ n int }

func (*benchConn) Kind() mux.Kind { return mux.Client }
func (*benchConn) NoEcho() bool   { return false }
func (c *benchConn) Deliver(*mux.Sub, *mux.Msg) (bool, bool) {
	c.n++
	return c.n%64 == 1, true
}
func (*benchConn) Flush()           {}
func (*benchConn) Expired(*mux.Sub) {}

// BenchmarkPublish: the per-message fan-out cost with a cached match, for 1
// and 5 subscribers (plus a queue group in the 5 case).
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{1, 5} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			m := mux.New()
			conns := make([]*benchConn, subs)
			for i := range conns {
				conns[i] = &benchConn{}
				pattern := []string{"bench.msg", "bench.*", "bench.>", ">", "*.msg"}[i]
				subscribe(b, m, conns[i], pattern, "", 0)
			}
			if subs > 1 {
				for range 3 {
					subscribe(b, m, &benchConn{}, "bench.msg", "workers", 0)
				}
			}
			from := &benchConn{}
			ms := msg("bench.msg", "0123456789abcdef")
			var batch mux.Batch
			b.SetBytes(int64(ms.Size()))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Publish(from, ms, &batch)
				if i++; i%64 == 0 {
					batch.Flush()
				}
			}
		})
	}
}

// TestRoutePickCountedOnce: a message handed to one route for a queue group
// is one delivery, as Publish's doc says ("the number of deliveries made").
func TestRoutePickCountedOnce(t *testing.T) {
	m := mux.New()
	r := newRoute("r")
	subscribe(t, m, r, "q", "g", 0)
	var batch mux.Batch
	n := m.Publish(newClient("pub"), msg("q", ""), &batch)
	if len(r.routed) != 1 {
		t.Fatalf("route got %d messages, want 1", len(r.routed))
	}
	if n != 1 {
		t.Fatalf("BUG (mux.go Publish/pickQueue): one routed delivery counted as %d: "+
			"pickQueue returns true for the route pick and the route loop adds DeliverRouted's ok again", n)
	}
}

// TestRoutePickRefusedFallsBack: pickQueue's doc promises that when the
// chosen member refuses (closing), the next eligible one is tried. That must
// hold when the chosen member is a route too.
func TestRoutePickRefusedFallsBack(t *testing.T) {
	m := mux.New()
	r := newRoute("closing")
	r.refuse = true
	local := newClient("local")
	subscribe(t, m, r, "q", "g", 1000) // picked nearly every time
	ls := subscribe(t, m, local, "q", "g", 0)
	var batch mux.Batch
	zero := 0
	for range 100 {
		if m.Publish(newClient("pub"), msg("q", ""), &batch) == 0 {
			zero++
		}
	}
	if got := local.count(ls); got < 90 {
		t.Fatalf("BUG (mux.go pickQueue): with the picked route refusing, the local member got %d of 100 "+
			"messages (the rest were lost) and Publish returned 0 only %d times", got, zero)
	}
}

// parallelConn is an owner many publishers deliver to at once.
type parallelConn struct{ n atomic.Int64 }

func (*parallelConn) Kind() mux.Kind { return mux.Client }
func (*parallelConn) NoEcho() bool   { return false }
func (c *parallelConn) Deliver(*mux.Sub, *mux.Msg) (bool, bool) {
	return c.n.Add(1)%64 == 1, true
}
func (*parallelConn) Flush()           {}
func (*parallelConn) Expired(*mux.Sub) {}

// BenchmarkPublishParallel: BenchmarkPublish's 5-subscriber fan-out from
// GOMAXPROCS publishers at once, each with its own batch (run with
// -cpu 1,2,4,8).
func BenchmarkPublishParallel(b *testing.B) {
	m := mux.New()
	for _, pattern := range []string{"bench.msg", "bench.*", "bench.>", ">", "*.msg"} {
		subscribe(b, m, &parallelConn{}, pattern, "", 0)
	}
	for range 3 {
		subscribe(b, m, &parallelConn{}, "bench.msg", "workers", 0)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		from := &parallelConn{}
		ms := msg("bench.msg", "0123456789abcdef")
		var batch mux.Batch
		i := 0
		for pb.Next() {
			m.Publish(from, ms, &batch)
			if i++; i%64 == 0 {
				batch.Flush()
			}
		}
	})
}

// seeded is a reproducible, goroutine-safe pick source.
func seeded(seed uint64) func(int) int {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(n)
	}
}

// TestQueuePicksReproducible: two multiplexors given equally seeded
// sources pick the same members in the same order, and another seed
// picks differently.
func TestQueuePicksReproducible(t *testing.T) {
	picks := func(seed uint64) string {
		m := mux.NewWithRand(seeded(seed))
		members := make([]*fakeConn, 5)
		for i := range members {
			members[i] = newClient(fmt.Sprint(i))
			subscribe(t, m, members[i], "work", "q", 0)
		}
		var b mux.Batch
		var seq []byte
		for range 40 {
			m.Publish(newClient("pub"), msg("work", ""), &b)
			for i, c := range members {
				if len(c.delivered) > 0 {
					seq = append(seq, byte('0'+i))
					c.delivered = nil
				}
			}
		}
		return string(seq)
	}
	a, b, c := picks(1), picks(1), picks(2)
	if len(a) != 40 || a != b {
		t.Fatalf("same seed, different picks:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 1 and 2 picked alike: %s", a)
	}
}
