package transform

import (
	"errors"
	"testing"
)

func mustMapping(t *testing.T, src string, dests ...Dest) *Mapping {
	t.Helper()
	m, err := NewMapping(src, dests...)
	if err != nil {
		t.Fatalf("NewMapping(%q, %+v): %v", src, dests, err)
	}
	return m
}

// rolls maps subject once for every roll 0..99 and counts where the
// messages went ("" for dropped ones).
func rolls(t *testing.T, tb *Table, subject string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for w := range uint32(100) {
		tb.roll = func() uint32 { return w }
		out, ok := tb.Map(nil, []byte(subject))
		if !ok {
			t.Fatalf("%q: no mapping applied", subject)
		}
		got[string(out)]++
	}
	return got
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWeights: each destination gets its weight's share of the rolls;
// what the weights leave keeps its subject, or is dropped when the
// source is one of the destinations.
func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string
		dests []Dest
		subj  string
		want  map[string]int
	}{
		{"canary", "canary", []Dest{{Subject: "v1", Weight: 90}, {Subject: "v2", Weight: 10}}, "canary", map[string]int{"v1": 90, "v2": 10}},
		{"rest keeps its subject", "x.*", []Dest{{Subject: "y.$1", Weight: 30}}, "x.q", map[string]int{"y.q": 30, "x.q": 70}},
		{"rest of a tail", "x.>", []Dest{{Subject: "y.>", Weight: 25}}, "x.q.r", map[string]int{"y.q.r": 25, "x.q.r": 75}},
		{"rest dropped", "d", []Dest{{Subject: "d", Weight: 40}, {Subject: "e", Weight: 10}}, "d", map[string]int{"d": 40, "e": 10, "": 50}},
		{"none: itself", "n", nil, "n", map[string]int{"n": 100}},
		{"weight 0", "z", []Dest{{Subject: "never", Weight: 0}}, "z", map[string]int{"z": 100}},
	} {
		tb := NewTable("", mustMapping(t, tc.src, tc.dests...))
		if got := rolls(t, tb, tc.subj); !sameCounts(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestClusterScoped: destinations of a cluster apply on its brokers
// only; other brokers use those of no cluster (or the subject itself).
func TestClusterScoped(t *testing.T) {
	m := mustMapping(t, "x.*",
		Dest{Subject: "east.$1", Weight: 50, Cluster: "east"},
		Dest{Subject: "all.$1", Weight: 100},
	)
	for cluster, want := range map[string]map[string]int{
		"east": {"east.q": 50, "x.q": 50},
		"west": {"all.q": 100},
		"":     {"all.q": 100},
	} {
		if got := rolls(t, NewTable(cluster, m), "x.q"); !sameCounts(got, want) {
			t.Errorf("cluster %q: %v, want %v", cluster, got, want)
		}
	}
	only := mustMapping(t, "o", Dest{Subject: "p", Weight: 100, Cluster: "east"})
	if got := rolls(t, NewTable("west", only), "o"); !sameCounts(got, map[string]int{"o": 100}) {
		t.Errorf("outside the cluster: %v", got)
	}
}

// TestMappingErrors: nats-server's AddWeightedMappings refusals.
func TestMappingErrors(t *testing.T) {
	for _, tc := range []struct {
		src   string
		dests []Dest
		is    error
		want  string
	}{
		{"a..b", []Dest{{Subject: "c", Weight: 100}}, ErrInvalidSubject, "invalid subject"},
		{"a b", []Dest{{Subject: "c", Weight: 100}}, ErrInvalidSubject, "invalid subject"},
		{"w", []Dest{{Subject: "a", Weight: 60}, {Subject: "b", Weight: 50}}, ErrTotalWeightOver100, "total weight needs to be <= 100"},
		{"w", []Dest{{Subject: "a", Weight: 101}}, ErrWeightOver100, "individual weights need to be <= 100"},
		{"w", []Dest{{Subject: "b", Weight: 50}, {Subject: "b", Weight: 10}}, nil, `duplicate entry for "b"`},
		{"w", []Dest{{Subject: "b", Weight: 60, Cluster: "e"}, {Subject: "b", Weight: 10, Cluster: "w"}}, nil, `duplicate entry for "b"`},
		{"w", []Dest{{Subject: "b", Weight: 60, Cluster: "e"}, {Subject: "c", Weight: 60, Cluster: "e"}}, ErrTotalWeightOver100, "total weight needs to be <= 100"},
		{"w", []Dest{{Subject: "", Weight: 60}}, ErrEmptyDestination, ErrEmptyDestination.Error()},
		{"w.*", []Dest{{Subject: "b.$2", Weight: 100}}, ErrIndexOutOfRange, "invalid mapping destination: wildcard index out of range in $2: [2]"},
	} {
		_, err := NewMapping(tc.src, tc.dests...)
		if err == nil || tc.is != nil && !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("NewMapping(%q, %+v): %v, want %q", tc.src, tc.dests, err, tc.want)
		}
	}
	// Weights of different clusters add up separately.
	mustMapping(t, "w", Dest{Subject: "b", Weight: 60, Cluster: "e"}, Dest{Subject: "c", Weight: 60, Cluster: "w"})
}

// TestTableOrder: an exact source wins; among wildcard sources the first
// given that matches; a later mapping of the same source replaces it.
func TestTableOrder(t *testing.T) {
	tb := NewTable("",
		mustMapping(t, "a.*", Dest{Subject: "star.$1", Weight: 100}),
		mustMapping(t, "a.>", Dest{Subject: "tail.>", Weight: 100}),
		mustMapping(t, "a.b", Dest{Subject: "exact", Weight: 100}),
		mustMapping(t, "c.*", Dest{Subject: "first.$1", Weight: 100}),
		mustMapping(t, "c.*", Dest{Subject: "second.$1", Weight: 100}),
	)
	for subj, want := range map[string]string{
		"a.b": "exact", "a.x": "star.x", "a.x.y": "tail.x.y", "c.q": "second.q",
	} {
		if out, ok := tb.Map(nil, []byte(subj)); !ok || string(out) != want {
			t.Errorf("%q: %q, %v; want %q", subj, out, ok, want)
		}
	}
	for _, subj := range []string{"a", "b.x", "c.q.r", "c.>", ""} {
		if out, ok := tb.Map(nil, []byte(subj)); ok {
			t.Errorf("%q mapped to %q", subj, out)
		}
	}
	// A published wildcard matches only a wildcard of the source.
	if out, ok := tb.Map(nil, []byte("a.*")); !ok || string(out) != "star.*" {
		t.Errorf("a.*: %q, %v", out, ok)
	}
	var none *Table
	if out, ok := none.Map([]byte("x"), []byte("a.b")); ok || string(out) != "x" {
		t.Errorf("nil table: %q, %v", out, ok)
	}
	if NewTable("east") != nil {
		t.Error("a table of no mappings")
	}
}

// TestTableLiteralPartition: a source without wildcards partitions the
// empty string, as nats-server does when it tries that mapping first (a
// config with this one mapping delivers "p" on p.1).
func TestTableLiteralPartition(t *testing.T) {
	tb := NewTable("", mustMapping(t, "p", Dest{Subject: "p.{{partition(3)}}", Weight: 100}))
	if out, _ := tb.Map(nil, []byte("p")); string(out) != "p.1" {
		t.Fatalf("p: %q, want p.1", out)
	}
}

func TestMapNoAlloc(t *testing.T) {
	tb := NewTable("",
		mustMapping(t, "lit", Dest{Subject: "other", Weight: 100}),
		mustMapping(t, "orders.*.*", Dest{Subject: "o.{{partition(8,1)}}.$2.$1", Weight: 100}),
		mustMapping(t, "canary.>", Dest{Subject: "v1.>", Weight: 90}, Dest{Subject: "v2.>", Weight: 10}),
	)
	buf := make([]byte, 0, 64)
	for _, subj := range []string{"lit", "orders.x.y", "canary.a.b", "unmapped.subject"} {
		s := []byte(subj)
		if n := testing.AllocsPerRun(100, func() { buf, _ = tb.Map(buf[:0], s) }); n != 0 {
			t.Errorf("%s: %v allocations per Map", subj, n)
		}
	}
}
