package transform

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Dest is one destination of a subject mapping: the subject (with
// placeholders and functions) a share of the messages go to, that
// share, and the cluster it is for ("" for every cluster).
type Dest struct {
	Subject string
	// Weight is the percentage of the messages sent to Subject, 0 to 100.
	Weight uint8
	// Cluster scopes the destination to brokers of that cluster.
	Cluster string
}

// Errors of NewMapping besides those of Parse, as nats-server words them.
var (
	ErrWeightOver100      = errors.New("individual weights need to be <= 100")
	ErrTotalWeightOver100 = errors.New("total weight needs to be <= 100")
	// ErrEmptyDestination has no nats-server text: nats-server 2.15
	// accepts an empty destination and fails on the first message it
	// maps.
	ErrEmptyDestination = errors.New("empty destination: the subject to map to is required")
)

// Mapping is one subject mapping: the published subjects that match its
// source go to one of its destinations, each chosen for its weight's
// share of the messages. Immutable; safe for concurrent use.
type Mapping struct {
	src      string
	all      []choice            // the destinations of no cluster
	clusters map[string][]choice // cluster-scoped destinations
}

// choice is one destination among a mapping's, chosen when the roll
// (0 to 99) is below upTo, the weights up to and including its own.
// A roll at or above the last upTo maps to nothing: the message is
// dropped.
type choice struct {
	tr   *Transform
	upTo uint32
}

// NewMapping checks a mapping as nats-server's AddWeightedMappings does
// and returns it. The weights of each cluster's destinations (and of
// those of no cluster) add up to 100 at most; when they add up to less,
// the rest of the messages keep their subject, unless the source is
// itself one of the destinations (in any cluster), when the rest are
// dropped. Without destinations every message keeps its subject.
func NewMapping(src string, dests ...Dest) (*Mapping, error) {
	if _, _, _, ok := info(src); !ok || strings.ContainsAny(src, " \t\r\n\f") {
		return nil, ErrInvalidSubject
	}
	m := &Mapping{src: src}
	seen := map[string]bool{}
	total := map[string]int{}
	for _, d := range dests {
		if seen[d.Subject] {
			return nil, fmt.Errorf("duplicate entry for %q", d.Subject)
		}
		seen[d.Subject] = true
		if d.Weight > 100 {
			return nil, ErrWeightOver100
		}
		if total[d.Cluster] += int(d.Weight); total[d.Cluster] > 100 {
			return nil, ErrTotalWeightOver100
		}
		if d.Subject == "" {
			return nil, ErrEmptyDestination
		}
		tr, err := Parse(src, d.Subject)
		if err != nil {
			return nil, err
		}
		c := choice{tr: tr, upTo: uint32(d.Weight)}
		if d.Cluster == "" {
			m.all = append(m.all, c)
			continue
		}
		if m.clusters == nil {
			m.clusters = map[string][]choice{}
		}
		m.clusters[d.Cluster] = append(m.clusters[d.Cluster], c)
	}
	var err error
	if m.all, err = m.complete(m.all, seen[src]); err != nil {
		return nil, err
	}
	for name, cs := range m.clusters {
		if m.clusters[name], err = m.complete(cs, seen[src]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// complete adds the source itself for the weight the destinations leave
// (unless dropping is asked for), orders them by weight and turns the
// weights into running totals.
func (m *Mapping) complete(cs []choice, drop bool) ([]choice, error) {
	var sum uint32
	for _, c := range cs {
		sum += c.upTo
	}
	if sum != 100 && !drop {
		tr, err := build(m.src, Tokenize(m.src), false)
		if err != nil {
			return nil, err
		}
		cs = append(cs, choice{tr: tr, upTo: 100 - sum})
	}
	slices.SortStableFunc(cs, func(a, b choice) int { return cmp.Compare(a.upTo, b.upTo) })
	sum = 0
	for i := range cs {
		sum += cs[i].upTo
		cs[i].upTo = sum
	}
	return cs, nil
}

// Source is the subject pattern the mapping applies to.
func (m *Mapping) Source() string { return m.src }

// Table is an account's mappings as one broker applies them: the
// destinations of its cluster chosen. A nil *Table maps nothing.
// Immutable; safe for concurrent use.
type Table struct {
	literal map[string]*entry // sources without wildcards, by subject
	wild    []*entry          // the others, in the order given
	// roll returns 0 to 99; rand.Uint32N(100) but in tests.
	roll func() uint32
}

// entry is one mapping with its choices for this broker's cluster.
type entry struct {
	src     []string // the source's tokens
	literal bool
	choices []choice
}

// NewTable returns the table of the mappings for a broker of cluster
// (its name; "" when it is in none): a mapping with destinations scoped
// to that cluster uses those, the others its destinations of no
// cluster. Of two mappings with one source the later is kept. A
// published subject that matches a source without wildcards takes that
// mapping; else the first matching source with wildcards, in the order
// given (nats-server's order among overlapping sources is that of its
// configuration's hash map: unspecified). NewTable returns nil for no
// mappings.
func NewTable(cluster string, ms ...*Mapping) *Table {
	if len(ms) == 0 {
		return nil
	}
	t := &Table{literal: map[string]*entry{}, roll: func() uint32 { return rand.Uint32N(100) }}
	at := map[string]int{}
	for _, m := range ms {
		cs := m.all
		if c, ok := m.clusters[cluster]; ok {
			cs = c
		}
		_, pwcs, fwc, _ := info(m.src)
		e := &entry{src: strings.Split(m.src, "."), literal: pwcs == 0 && !fwc, choices: cs}
		if e.literal {
			t.literal[m.src] = e
			continue
		}
		if i, ok := at[m.src]; ok {
			t.wild[i] = e
			continue
		}
		at[m.src] = len(t.wild)
		t.wild = append(t.wild, e)
	}
	return t
}

// Map appends to dst the subject a message published on subject goes
// to, and reports whether a mapping applied. A mapping that applied but
// chose no destination (the dropped share) appends nothing: the message
// goes nowhere. Map allocates only when dst is short or the subject has
// more than 32 tokens.
func (t *Table) Map(dst, subject []byte) ([]byte, bool) {
	if t == nil {
		return dst, false
	}
	if e := t.literal[string(subject)]; e != nil {
		// nats-server hands a literal source's transform no tokens when
		// it is the first mapping it tries, so a partition of the whole
		// subject hashes the empty string: the same here.
		return e.apply(t, dst, nil), true
	}
	if len(t.wild) == 0 {
		return dst, false
	}
	var stack [maxStackTokens][]byte
	toks := tokenize(stack[:0], subject)
	for _, e := range t.wild {
		if subsetMatch(toks, e.src) {
			return e.apply(t, dst, toks), true
		}
	}
	return dst, false
}

func (e *entry) apply(t *Table, dst []byte, toks [][]byte) []byte {
	cs := e.choices
	var c *choice
	if len(cs) == 1 && cs[0].upTo == 100 {
		c = &cs[0]
	} else {
		w := t.roll()
		for i := range cs {
			if w < cs[i].upTo {
				c = &cs[i]
				break
			}
		}
	}
	if c == nil {
		return dst
	}
	return c.tr.apply(dst, toks)
}

// subsetMatch reports whether the published subject's tokens match the
// source pattern, as nats-server decides: a "*" or ">" the publisher
// wrote matches only a wildcard of the source in its place.
func subsetMatch(toks [][]byte, pattern []string) bool {
	for i, p := range pattern {
		if i >= len(toks) {
			return false
		}
		if p == ">" {
			return true
		}
		s := toks[i]
		switch {
		case len(s) == 0, len(s) == 1 && s[0] == '>':
			return false
		case len(s) == 1 && s[0] == '*':
			if p != "*" {
				return false
			}
		case p != "*" && string(s) != p:
			return false
		}
	}
	return len(toks) == len(pattern)
}
