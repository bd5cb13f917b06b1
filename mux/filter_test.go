package mux_test

import (
	"testing"

	"github.com/murmurmq/murmur/mux"
)

// denyFilter refuses subjects in a set.
type denyFilter map[string]bool

func (f denyFilter) Admit(_ *mux.Sub, m *mux.Msg) bool { return !f[string(m.Subject)] }

// TestFilter: a filtered subscription skips refused messages without
// counting them toward its maximum, and a queue group picks another member.
func TestFilter(t *testing.T) {
	m := mux.New()
	c := newClient("c")
	s := &mux.Sub{Subject: ">", SID: []byte("1"), Owner: c, Filter: denyFilter{"secret.x": true}}
	if err := m.Subscribe(s); err != nil {
		t.Fatal(err)
	}
	s.SetMax(2)
	var batch mux.Batch
	for _, subj := range []string{"secret.x", "public.a", "secret.x", "public.b"} {
		m.Publish(nil, msg(subj, ""), &batch)
	}
	if got := c.count(s); got != 2 || c.delivered[0].subject != "public.a" || c.delivered[1].subject != "public.b" {
		t.Fatalf("filtered sub got %+v, want public.a and public.b", c.delivered)
	}
	if len(c.expired) != 1 {
		t.Errorf("expired %d times, want once after the two admitted messages", len(c.expired))
	}

	// Queue group: the filtering member never gets the refused subject.
	q1, q2 := newClient("q1"), newClient("q2")
	f := &mux.Sub{Subject: "jobs.*", Queue: "g", SID: []byte("f"), Owner: q1, Filter: denyFilter{"jobs.secret": true}}
	if err := m.Subscribe(f); err != nil {
		t.Fatal(err)
	}
	plain := subscribe(t, m, q2, "jobs.*", "g", 0)
	for range 50 {
		if n := m.Publish(nil, msg("jobs.secret", ""), &batch); n != 1 {
			t.Fatalf("Publish to group = %d, want 1", n)
		}
	}
	if q1.count(f) != 0 || q2.count(plain) != 50 {
		t.Fatalf("filtering member got %d, other %d; want 0 and 50", q1.count(f), q2.count(plain))
	}
}
