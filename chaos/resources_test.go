package main

import (
	"strings"
	"testing"
	"time"
)

// TestVerdict holds the growth check to its rules: the lowest of the last
// samples counts, client connections more than at the start earn an
// allowance, and a sustained rise fails.
func TestVerdict(t *testing.T) {
	const mib = 1 << 20
	s := func(g int, rss int64, conns int) resourceSample {
		return resourceSample{Goroutines: g, RSS: rss * mib, Conns: conns}
	}
	cases := []struct {
		name    string
		samples []resourceSample
		grew    string // substring of Grew; "" means none
	}{
		{"flat", []resourceSample{s(100, 20, 10), s(102, 30, 10), s(99, 25, 10)}, ""},
		{"a passing peak", []resourceSample{s(100, 20, 10), s(300, 200, 10), s(101, 30, 10), s(100, 25, 10)}, ""},
		{"more clients", []resourceSample{s(100, 20, 10), s(140, 30, 20), s(141, 30, 20)}, ""},
		{"goroutine leak", []resourceSample{s(100, 20, 10), s(150, 20, 10), s(200, 20, 10), s(250, 20, 10), s(300, 20, 10)}, "goroutines 100 → 200"},
		{"fewer clients hide nothing", []resourceSample{s(100, 20, 10), s(130, 20, 5), s(130, 20, 5)}, "goroutines"},
		{"rss growth", []resourceSample{s(100, 20, 10), s(100, 90, 10), s(100, 110, 10), s(100, 120, 10), s(100, 130, 10)}, "rss 20 → 110 MiB (bound 104 MiB)"},
	}
	for _, c := range cases {
		for i := range c.samples {
			c.samples[i].At = time.Duration(i) * time.Second
		}
		v := (&incarnation{Broker: "b0", Start: 1, Samples: c.samples}).verdict()
		switch {
		case c.grew == "" && v.Grew != "":
			t.Errorf("%s: grew %q, want none", c.name, v.Grew)
		case c.grew != "" && !strings.Contains(v.Grew, c.grew):
			t.Errorf("%s: grew %q, want %q", c.name, v.Grew, c.grew)
		}
	}
}
