package transform

import (
	"errors"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/pubsub"
)

func TestMap(t *testing.T) {
	for _, tc := range []struct{ src, dest, subject, want string }{
		{"a.events.>", "b.>", "a.events.x.y", "b.x.y"},
		{"a.>", ">", "a.x", "x"},
		{"a.*.*", "b.$2.$1", "a.x.y", "b.y.x"},
		{"a.*.*", Tokenize("b.*.*"), "a.x.y", "b.x.y"},
		{"a.*.*", "b.$1.$1", "a.x.y", "b.x.x"}, // counted, not checked one by one (as nats-server)
		{"a.*.>", "b.{{wildcard(1)}}.c.>", "a.x.y.z", "b.x.c.y.z"},
		{"a.*.>", "b.{{ Wildcard( 1 ) }}.>", "a.x.y", "b.x.y"},
		{"a.*", "b.$x.$1", "a.q", "b.$x.q"}, // "$x" is a literal
		{"a.b", "c.d", "a.b", "c.d"},
	} {
		tr, err := New(tc.src, tc.dest)
		if err != nil {
			t.Errorf("New(%q, %q): %v", tc.src, tc.dest, err)
			continue
		}
		if got := tr.Subject(tc.subject); got != tc.want {
			t.Errorf("%q -> %q maps %q to %q, want %q", tc.src, tc.dest, tc.subject, got, tc.want)
		}
	}
}

// TestNewErrors: the texts are nats-server's (v2.15, checked with
// nats-server -t against stream and service imports).
func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		src, dest string
		is        error
		want      string
	}{
		{"a.events.>", "b.c", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b.>", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b..c", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b.*", ErrInvalidSubject, "invalid subject"}, // not tokenized
		{"a.*.x", "b.c", ErrNotAllWildcards, "invalid mapping destination: not using all of the token wildcard(s) in b.c"},
		{"a.*.*", Tokenize("b.*"), ErrNotAllWildcards, "invalid mapping destination: not using all of the token wildcard(s) in b.$1"},
		{"a.*.*", "b.$3.$1", ErrIndexOutOfRange, "invalid mapping destination: wildcard index out of range in $3: [3]"},
		{"a.*", "b.$0", ErrIndexOutOfRange, "invalid mapping destination: wildcard index out of range in $0: [0]"},
		{"a.b", "c.$1", ErrIndexOutOfRange, "invalid mapping destination: wildcard index out of range in $1"},
		{"a.*.*", "b.{{partition(3)}}.$1", ErrFunctionNotForImport, "invalid mapping destination: the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(3)}}"},
		{"a.*.*", "b.{{bogus(3)}}.$1", ErrUnknownFunction, "invalid mapping destination: unknown function in {{bogus(3)}}"},
		{"a.*", "b.{{wildcard}}", ErrUnknownFunction, "invalid mapping destination: unknown function in {{wildcard}}"},
		{"a.*", "b.{{WILDCARD(1)}}", ErrUnknownFunction, "invalid mapping destination: unknown function in {{WILDCARD(1)}}"},
		{"a.*", "b.{{wildcard()}}", ErrNotEnoughArgs, "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"},
		{"a.*", "b.{{wildcard(1,2)}}", ErrTooManyArgs, "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"},
		{"a.*", "b.{{wildcard(x)}}", ErrInvalidArg, "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(x)}}"},
	} {
		_, err := New(tc.src, tc.dest)
		if !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("New(%q, %q): %v, want %q", tc.src, tc.dest, err, tc.want)
		}
	}
}

// TestReverse: the service import form, the exported subject's transform
// to the local subject, reversed.
func TestReverse(t *testing.T) {
	for _, tc := range []struct{ exported, local, subject, want string }{
		{"s.*.*", "l.*.*", "l.x.y", "s.x.y"},
		{"s.*.*", "l.$2.$1", "l.x.y", "s.y.x"},
		{"s.*.>", "l.>.", "", ""}, // invalid: skipped below
		{"svc.>", "local.>", "local.a.b", "svc.a.b"},
		{"s.*.x.*", "l.{{wildcard(2)}}.{{wildcard(1)}}", "l.p.q", "s.q.x.p"},
	} {
		fwd, err := New(tc.exported, Tokenize(tc.local))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q -> %q accepted", tc.exported, tc.local)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q -> %q: %v", tc.exported, tc.local, err)
		}
		rev, err := fwd.Reverse()
		if err != nil {
			t.Fatalf("reverse of %q -> %q: %v", tc.exported, tc.local, err)
		}
		if got := rev.Subject(tc.subject); got != tc.want {
			t.Errorf("reverse of %q -> %q maps %q to %q, want %q", tc.exported, tc.local, tc.subject, got, tc.want)
		}
		if sub, _ := Untokenize(tc.local); rev.Source() != sub {
			t.Errorf("reverse source %q, want %q", rev.Source(), sub)
		}
	}
	// More placeholders than the source has wildcards: forward passes (it
	// counts), the reverse cannot place them all.
	fwd, err := New("s.*", "l.$1.$1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fwd.Reverse(); !errors.Is(err, ErrNotAllWildcards) {
		t.Fatalf("reverse of s.* -> l.$1.$1: %v", err)
	}
}

func TestAppendNoAlloc(t *testing.T) {
	tr, err := New("a.*.>", "b.$1.>")
	if err != nil {
		t.Fatal(err)
	}
	subj, buf := []byte("a.x.y.z"), make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = tr.Append(buf[:0], subj) }); n != 0 {
		t.Fatalf("%v allocations per Append", n)
	}
}

// FuzzNew: any pair either fails or gives a transform that maps a subject
// of the source to a valid literal subject (when the destination's
// literals are), without panicking; its reverse likewise.
func FuzzNew(f *testing.F) {
	for _, s := range [][2]string{{"a.*.*", "b.$2.$1"}, {"a.>", "b.>"}, {"a.*", "{{wildcard(1)}}"}, {"a.*.*", "b.$1.$1"}, {"a.*", "{{x}}"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, dest string) {
		tr, err := New(src, dest)
		if err != nil {
			return
		}
		subject := strings.NewReplacer("*", "x", ">", "y.z").Replace(src)
		got := tr.Subject(subject)
		if pubsub.ValidLiteralSubject(subject) && pubsub.ValidLiteralSubject(strings.NewReplacer(">", "y").Replace(dest)) && !pubsub.ValidLiteralSubject(got) && got != "" {
			t.Fatalf("%q -> %q maps %q to invalid %q", src, dest, subject, got)
		}
		if rev, err := tr.Reverse(); err == nil {
			_ = rev.Subject(got)
		}
	})
}
