package broker

import (
	"fmt"
	"hash/maphash"
	"math"
	"testing"
	"time"
)

// TestSpaceSavingBounded: however many subjects, the summary keeps
// subjectCounters, and a heavy subject among many light ones stays in it
// with a count no lower than its true count.
func TestSpaceSavingBounded(t *testing.T) {
	var s spaceSaving
	s.init()
	heavy := 0
	for i := range 20000 {
		if i%10 == 0 {
			s.add([]byte("heavy"))
			heavy++
		}
		s.add(fmt.Appendf(nil, "light.%d", i))
	}
	if len(s.ents) != subjectCounters || len(s.idx) != subjectCounters {
		t.Fatalf("summary holds %d entries (%d indexed), want %d", len(s.ents), len(s.idx), subjectCounters)
	}
	i, ok := s.idx[maphash.Bytes(s.seed, []byte("heavy"))]
	if !ok || s.ents[i].count < int64(heavy) {
		t.Fatalf("heavy subject lost or undercounted: %v %+v (true %d)", ok, s.ents[i], heavy)
	}
	for h, i := range s.idx {
		if s.ents[i].hash != h || maphash.Bytes(s.seed, s.ents[i].subject) != h {
			t.Fatalf("index of %x points at %q", h, s.ents[i].subject)
		}
	}
}

// TestSamplerWindows: rates over the first window, the sliding blend of
// two windows, and the decay to nothing after two idle windows.
func TestSamplerWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newSubjectSampler(t0)
	for range 10 {
		s.add([]byte("a"), t0.Add(time.Second))
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-6 }
	// First window, 2 s in: 10 samples of 64 in 2 s.
	if r := s.rates(t0.Add(2 * time.Second))["a"]; !near(r, 10*SubjectSampleEvery/2.0) {
		t.Fatalf("first window rate %v", r)
	}
	// One second into the second window: 4/5 of the first window's
	// samples still count, over a whole window.
	for range 5 {
		s.add([]byte("b"), t0.Add(SubjectWindow))
	}
	r := s.rates(t0.Add(SubjectWindow + time.Second))
	if !near(r["a"], 10*0.8*SubjectSampleEvery/SubjectWindow.Seconds()) || !near(r["b"], 5*SubjectSampleEvery/SubjectWindow.Seconds()) {
		t.Fatalf("sliding rates %v", r)
	}
	// Two idle windows later nothing is left.
	if r := s.rates(t0.Add(4 * SubjectWindow)); len(r) != 0 {
		t.Fatalf("stale rates %v", r)
	}
}

// BenchmarkSampleSubject is the per-publish cost of the sampler, on and
// off (the increment alone), with few subjects (counter hits) and with
// every subject new (evictions, as reply subjects are).
func BenchmarkSampleSubject(b *testing.B) {
	for _, tc := range []struct {
		name     string
		subjects int
		off      bool
	}{{"hot/off", 8, true}, {"hot/on", 8, false}, {"churn/off", 1 << 16, true}, {"churn/on", 1 << 16, false}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := &Server{}
			srv.live.Store(&Options{NoSubjectSampling: tc.off})
			srv.sysacc = newAccount("$SYS")
			c := &client{}
			c.srv = srv
			acc := newAccount("A")
			subs := make([][]byte, tc.subjects)
			for i := range subs {
				subs[i] = fmt.Appendf(nil, "orders.%d.created", i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.sampleSubject(acc, subs[i&(len(subs)-1)])
				i++
			}
		})
	}
}
