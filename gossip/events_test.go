package gossip

import (
	"testing"
	"time"
)

func ev(typ EventType, name, version string) Event {
	return Event{Type: typ, Member: Member{Name: name, Meta: Meta{Version: version}}}
}

func TestEventQueueCoalescesUpdates(t *testing.T) {
	q := newEventQueue()
	q.push(ev(EventJoin, "a", "1"))
	q.push(ev(EventUpdate, "a", "2"))
	q.push(ev(EventUpdate, "b", "1"))
	q.push(ev(EventUpdate, "a", "3")) // replaces a/2 in place
	q.push(ev(EventDead, "a", "3"))
	q.push(ev(EventJoin, "a", "4"))
	q.push(ev(EventUpdate, "a", "5")) // must not jump over dead/join
	got := q.take()
	want := []string{"join a 1", "update a 3", "update b 1", "dead a 3", "join a 4", "update a 5"}
	if len(got) != len(want) {
		t.Fatalf("got %d events %v", len(got), got)
	}
	for i, e := range got {
		if s := e.Type.String() + " " + e.Member.Name + " " + e.Member.Meta.Version; s != want[i] {
			t.Errorf("event %d = %q, want %q", i, s, want[i])
		}
	}
	// After take, a new Update is queued afresh.
	q.push(ev(EventUpdate, "a", "6"))
	if q.len() != 1 {
		t.Errorf("len = %d", q.len())
	}
	q.close()
	q.push(ev(EventJoin, "z", ""))
	if q.len() != 0 {
		t.Error("push after close was kept")
	}
}

func TestDispatchNeverBlocksProducer(t *testing.T) {
	q := newEventQueue()
	out := make(chan Event) // nobody reads yet
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() { dispatch(q, out, done); close(exited) }()
	for i := range 10000 {
		q.push(ev(EventJoin, string(rune('a'+i%26)), "")) // must return at once
	}
	first := <-out
	if first.Member.Name != "a" {
		t.Errorf("first event %v", first)
	}
	close(done)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("dispatch did not stop")
	}
	if _, ok := <-out; ok {
		t.Error("out not closed")
	}
}
