package node

import (
	"testing"
	"time"
)

// TestTrackerPauseResume: while paused nothing is due, and resume gives
// every Data back what it had left of its wait when the pause began; one
// added during the pause starts its wait at resume.
func TestTrackerPauseResume(t *testing.T) {
	tr := newTracker()
	t0 := time.Unix(1000, 0)
	first := &pending{seq: tr.assign(), kind: KindDirect, to: "b", sent: t0, deadline: t0.Add(time.Second)}
	tr.add(first) // FIFO
	retried := &pending{seq: tr.assign(), kind: KindDirect, to: "b", sent: t0, deadline: t0.Add(time.Second)}
	tr.add(retried)
	tr.reschedule(retried, t0.Add(8*time.Second)) // heap, on a long backoff

	pausedAt := t0.Add(500 * time.Millisecond)
	tr.pause(pausedAt)
	tr.pause(pausedAt.Add(time.Second)) // a second pause keeps the first instant
	if due := tr.popDue(t0.Add(time.Hour), nil); len(due) != 0 {
		t.Fatalf("%d due while paused", len(due))
	}
	if _, ok := tr.nextDeadline(); ok {
		t.Fatal("a deadline while paused")
	}
	during := &pending{seq: tr.assign(), kind: KindDirect, to: "b", sent: t0.Add(2 * time.Second), deadline: t0.Add(3 * time.Second)}
	tr.add(during)

	now := t0.Add(60 * time.Second)
	if d := tr.resume(now); d != now.Sub(pausedAt) {
		t.Fatalf("resume reports %v stopped, want %v", d, now.Sub(pausedAt))
	}
	for _, c := range []struct {
		name string
		p    *pending
		want time.Duration // left of the wait after resume
	}{
		{"first send", first, 500 * time.Millisecond},
		{"redelivered", retried, 7500 * time.Millisecond},
		{"sent while paused", during, time.Second},
	} {
		if got := c.p.deadline.Sub(now); got != c.want {
			t.Errorf("%s: %v left, want %v", c.name, got, c.want)
		}
	}
	if d, ok := tr.nextDeadline(); !ok || !d.Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("next deadline %v, %v", d, ok)
	}
	due := tr.popDue(now.Add(time.Second), nil)
	if len(due) != 2 || !(due[0] == first || due[1] == first) || !(due[0] == during || due[1] == during) {
		t.Fatalf("due after resume: %v", due)
	}
	if tr.resume(now) != 0 {
		t.Fatal("resume when not paused moved the clocks")
	}
}
