package transform

import (
	"strings"
	"testing"
)

// FuzzParse: any source, destination and published subject. Parse and
// NewMapping either refuse or give a transform that maps any subject
// without panicking; a pair New (the strict form) accepts, Parse
// accepts too and maps alike; a one-destination mapping maps a subject
// of a wildcard source as its transform does.
func FuzzParse(f *testing.F) {
	for _, s := range [][3]string{
		{"orders.*.*", "orders.{{wildcard(2)}}.{{wildcard(1)}}", "orders.a.b"},
		{"a.*", "b.{{partition(3,1)}}.$1", "a.xyz"},
		{"p", "p.{{partition(3)}}", "p"},
		{"a.*.>", "b.$1.>", "a.x.y.z"},
		{"s.*", "s.{{sliceFromRight(1,2)}}.{{sliceFromLeft(1,2)}}", "s.abcde"},
		{"s.*", "s.{{splitFromLeft(1,2)}}.{{splitFromRight(1,2)}}", "s.abcde"},
		{"sp.*", "sp.{{split(1,-)}}", "sp.-a--b-"},
		{"sp.*", "sp.{{split(1, )}}", "sp.héllo"},
		{"l.*", "{{left(1,2)}}.{{right(1,2)}}", "l.abcdef"},
		{"r.*", "r.{{random(5)}}", "r.x"},
		{"a.*", "b.{{{wildcard(1)}}}", "a.x"},
		{"a.*", "b.{{foo(1)}}{{wildcard(1)}}", "a.x"},
		{"a.*", "b.$0.$-1", "a.x"},
		{"*", "{{ Wildcard ( 1 ) }}", "x"},
		{">", "x.>", "a.b"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, src, dest, subject string) {
		tr, err := Parse(src, dest)
		if err != nil {
			if strict, serr := New(src, dest); serr == nil && !strings.ContainsAny(dest, " \t\r\n\f") {
				t.Fatalf("New accepts %q -> %q (%q) where Parse refuses: %v", src, dest, strict.Destination(), err)
			}
			return
		}
		_ = tr.Subject(subject) // any subject, matching or not
		toks := strings.Split(src, ".")
		for i, tk := range toks {
			switch tk {
			case "*":
				toks[i] = "x"
			case ">":
				toks[i] = "y.z"
			}
		}
		matching := strings.Join(toks, ".")
		got := tr.Subject(matching)
		if strict, err := New(src, dest); err == nil {
			if s := strict.Subject(matching); s != got {
				t.Fatalf("%q -> %q maps %q to %q strictly, %q as a mapping", src, dest, matching, s, got)
			}
		}
		m, err := NewMapping(src, Dest{Subject: dest, Weight: 100})
		if err != nil && strings.ContainsAny(src, " \t\r\n\f") {
			return // a source with white space is no subject (Parse does not check it)
		}
		if err != nil {
			t.Fatalf("Parse accepts %q -> %q, NewMapping refuses: %v", src, dest, err)
		}
		tb := NewTable("", m)
		_, _ = tb.Map(nil, []byte(subject))
		out, ok := tb.Map(nil, []byte(matching))
		_, pwcs, fwc, _ := info(src)
		wild := pwcs > 0 || fwc
		if wild && !strings.Contains(dest, "andom") && (!ok || string(out) != got) {
			t.Fatalf("%q -> %q: the table maps %q to %q (%v), the transform to %q", src, dest, matching, out, ok, got)
		}
	})
}
