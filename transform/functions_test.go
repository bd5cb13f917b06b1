package transform

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestParse: what each mapping function makes of a subject. The expected
// subjects are what nats-server 2.15.2 delivers for the same mapping
// (checked against it; cmd/broker's TestMappingsAsNatsServer keeps
// checking a selection).
func TestParse(t *testing.T) {
	for _, tc := range []struct{ src, dest, subject, want string }{
		{"a.*.*", "b.{{wildcard(2)}}.{{wildcard(1)}}", "a.x.y", "b.y.x"},
		{"a.*.*", "b.$2", "a.x.y", "b.y"}, // not every wildcard used
		{"a.*", "b", "a.x", "b"},
		{"a.*", "b.{{Wildcard(1)}}", "a.x", "b.x"},
		{"a.*", "b.{{ wildcard( 1 ) }}", "a.x", "b.x"},
		{"a.*", "b.$0", "a.x", "b.a"},              // wildcard 0: the subject's first token
		{"a.*", "b.$-1", "a.x", "b.a"},             // and below
		{"a.*", "b.{{wildcard(0)}}", "a.x", "b.a"}, // either form
		{"a.*", "b.$01", "a.x", "b.x"},
		{"a.*", "b.$+1", "a.x", "b.x"},
		{"a.*", "b.$x", "a.x", "b.$x"},
		{"a.*", "b.{{wildcard(1)}}x", "a.x", "b.{{wildcard(1)}}x"}, // not a function token: a literal
		{"a.*", "b.{{{wildcard(1)}}}", "a.x", "b.x"},               // the call is found inside
		{"a.*", "b.{{foo(1)}}{{wildcard(1)}}", "a.x", "b.x"},
		{"a.*.>", "b.$1.>", "a.x.y.z", "b.x.y.z"},
		{">", "b.>", "a.x", "b.a.x"},
		{"*", "{{wildcard(1)}}.q", "x", "x.q"},
		{"l.*", "l.{{left(1,2)}}", "l.abcdef", "l.ab"},
		{"r.*", "r.{{right(1,2)}}", "r.abcdef", "r.ef"},
		{"r.*", "r.{{right(1,9)}}", "r.abc", "r.abc"},
		{"r.*", "r.{{right(1,0)}}", "r.abc", "r.abc"},
		{"s.*", "s.{{splitFromLeft(1,2)}}", "s.abcde", "s.ab.cde"},
		{"s.*", "s.{{splitFromRight(1,2)}}", "s.abcde", "s.abc.de"},
		{"s.*", "s.{{splitFromLeft(1,5)}}", "s.abcde", "s.abcde"},
		{"s.*", "s.{{splitfromleft(1,1)}}", "s.ab", "s.a.b"},
		{"s.*", "s.{{sliceFromLeft(1,2)}}", "s.abcde", "s.ab.cd.e"},
		{"s.*", "s.{{sliceFromLeft(1,2)}}", "s.abcd", "s.ab.cd"},
		{"s.*", "s.{{sliceFromRight(1,2)}}", "s.abcde", "s.a.bc.de"},
		{"s.*", "s.{{sliceFromRight(1,2)}}", "s.abcd", "s.ab.cd"},
		{"s.*", "s.{{sliceFromRight(1,0)}}", "s.abcd", "s.abcd"},
		{"sp.*", "sp.{{split(1,-)}}", "sp.a-b--c-", "sp.a.b.c"},
		{"sp.*", "sp.{{split(1,-)}}", "sp.-a", "sp.a"},
		{"sp.*", "sp.{{split(1,-)}}", "sp.-", "sp."},
		{"sp.*", "sp.{{split(1,-)}}.z", "sp.abc", "sp.abc.z"},
		{"sp.*", "sp.{{split(1, )}}", "sp.abc", "sp.a.b.c"}, // an empty delimiter
		{"sp.*", "sp.{{split(1,ab)}}", "sp.xabyabz", "sp.x.y.z"},
		{"p.*", "p.{{partition(3,1)}}.$1", "p.abc", "p.2.abc"},
		{"p.*", "p.{{partition(3)}}.$1", "p.abc", "p.0.abc"}, // the whole subject
		{"p.*.*", "p.{{partition(10,1,2)}}", "p.ab.c", "p." + partitionOf("abc", 10)},
		{"p.*", "p.{{partition(0)}}", "p.abc", "p.0"},
		{"p.*", "p.{{partition(-3)}}", "p.abc", "p." + strconv.FormatUint(uint64(fnv("p.abc")%uint32(4294967293)), 10)},
		{"p", "p.{{partition(3)}}", "p", "p.2"}, // Parse hashes the subject (a Table does not: TestTableLiteralPartition)
		{"p", "p.{{partition(3,1)}}", "p", "p.2"},
		{"r.*", "r.{{random(0)}}", "r.x", "r.0"},
		{"r", "r.{{random(1)}}", "r", "r.0"},
		{"r", "r.{{random(-1)}}", "r", "r.0"},
	} {
		tr, err := Parse(tc.src, tc.dest)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tc.src, tc.dest, err)
			continue
		}
		if got := tr.Subject(tc.subject); got != tc.want {
			t.Errorf("%q -> %q maps %q to %q, want %q", tc.src, tc.dest, tc.subject, got, tc.want)
		}
	}
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func partitionOf(key string, n uint32) string { return strconv.FormatUint(uint64(fnv(key)%n), 10) }

// TestRandom: random(n) stays in 0..n-1 and reaches each.
func TestRandom(t *testing.T) {
	tr, err := Parse("r.*", "{{random(3)}}")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 1000 && len(seen) < 3; i++ {
		got := tr.Subject("r.x")
		if got != "0" && got != "1" && got != "2" {
			t.Fatalf("random(3) gave %q", got)
		}
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Fatalf("random(3) gave only %v in 1000 tries", seen)
	}
}

// TestParseErrors: nats-server 2.15.2's refusals (nats-server -t on a
// config with the mapping; the text after "Error adding mapping for ...
// : ").
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		src, dest string
		is        error
		want      string
	}{
		{"a.*", "b.$2", ErrIndexOutOfRange, "wildcard index out of range in $2: [2]"},
		{"a.*", "b.{{wildcard()}}", ErrNotEnoughArgs, "not enough arguments passed to the function in {{wildcard()}}"},
		{"a.*", "b.{{wildcard(1,2)}}", ErrTooManyArgs, "too many arguments passed to the function in {{wildcard(1,2)}}"},
		{"a.*", "b.{{wildcard(x)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{wildcard(x)}}"},
		{"a.*", "b.{{WILDCARD(1)}}", ErrUnknownFunction, "unknown function in {{WILDCARD(1)}}"},
		{"a.*", "b.{{partition()}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{partition()}}"},
		{"a.*", "b.{{partition(x)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{partition(x)}}"},
		{"a.*", "b.{{partition(3,2)}}", ErrIndexOutOfRange, "wildcard index out of range in {{partition(3,2)}}: [2]"},
		{"a.*", "b.{{partition(3,x)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{partition(3,x)}}"},
		{"a.*", "b.{{partition(3000000000)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{partition(3000000000)}}"},
		{"a.*", "b.{{splitFromLeft(1)}}", ErrNotEnoughArgs, "not enough arguments passed to the function in {{splitFromLeft(1)}}"},
		{"a.*", "b.{{splitFromLeft(1,2,3)}}", ErrTooManyArgs, "too many arguments passed to the function in {{splitFromLeft(1,2,3)}}"},
		{"a.*", "b.{{splitFromLeft(2,2)}}", ErrIndexOutOfRange, "wildcard index out of range in {{splitFromLeft(2,2)}}: [2]"},
		{"a.*", "b.{{sliceFromLeft(1,3000000000)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{sliceFromLeft(1,3000000000)}}"},
		{"a.*", "b.{{split(1)}}", ErrNotEnoughArgs, "not enough arguments passed to the function in {{split(1)}}"},
		{"a.*", "b.{{split(1,a b)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{split(1,a b)}}"},
		{"a.*", "b.{{random()}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{random()}}"},
		{"a.*", "b.{{random(1,2)}}", ErrNotEnoughArgs, "not enough arguments passed to the function in {{random(1,2)}}"},
		{"a.*", "b.{{random(x)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{random(x)}}"},
		{"a.*", "b.{{left(1)}}", ErrNotEnoughArgs, "not enough arguments passed to the function in {{left(1)}}"},
		{"a.*", "b.{{right(1,x)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{right(1,x)}}"},
		{"a", "b.$1", ErrIndexOutOfRange, "wildcard index out of range in $1"},
		{"a", "b.{{split(1,-)}}", ErrIndexOutOfRange, "wildcard index out of range in {{split(1,-)}}"},
		{"a.>", "b", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b.>", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b.*", ErrInvalidSubject, "invalid subject"},
		{"a.*", "b..c", ErrInvalidTransform, "invalid mapping destination: invalid transform"},
		{"a.>", "b.>.c", ErrInvalidTransform, "invalid mapping destination: invalid transform in c"},
		{"a.*", "b.$1 c", ErrInvalidTransform, "invalid mapping destination: invalid transform"},
		{"a.*", "b.{{foo}}", ErrUnknownFunction, "unknown function in {{foo}}"},
		{"a.*", "b.{{wildcard(1)}}{{foo(1)}}", ErrInvalidArg, "function argument is invalid or in the wrong format in {{wildcard(1)}}{{foo(1)}}"},
	} {
		_, err := Parse(tc.src, tc.dest)
		want := tc.want
		if !strings.HasPrefix(want, "invalid ") {
			want = "invalid mapping destination: " + want
		}
		if !errors.Is(err, tc.is) || err.Error() != want {
			t.Errorf("Parse(%q, %q): %v, want %q", tc.src, tc.dest, err, want)
		}
	}
}

// TestFindCall: the function pattern read as nats-server's regular
// expression reads it.
func TestFindCall(t *testing.T) {
	for _, tc := range []struct {
		token, name, args string
		ok                bool
	}{
		{"{{wildcard(1)}}", "Wildcard", "1", true},
		{"{{ Wildcard ( 1 ) }}", "Wildcard", " 1 ", true},
		{"{{wildcard(1)}}", "Partition", "", false},
		{"{{wildcard(1)}}{{wildcard(2)}}", "Wildcard", "1)}}{{wildcard(2", true}, // as long as it can be
		{"{{wildcard(1\n)}}", "Wildcard", "", false},                             // not across a line
		{"{{wildcard(1)\n}}", "Wildcard", "1", true},
		{"x{{wildcard(1)}}y", "Wildcard", "1", true}, // anywhere in the token
		{"{{wildcard(1)}", "Wildcard", "", false},
		{"{{wildCard(1)}}", "Wildcard", "", false},
		{"{{SPLIT(1,2)}}", "Split", "", false},
		{"{{SplitFromLeft(1,2)}}", "Split", "", false},
	} {
		args, ok := findCall(tc.token, tc.name)
		if args != tc.args || ok != tc.ok {
			t.Errorf("findCall(%q, %q) = %q, %v; want %q, %v", tc.token, tc.name, args, ok, tc.args, tc.ok)
		}
	}
}

// TestStrictRefusesFunctions: imports take wildcards only, whichever
// function (its arguments are checked first, as nats-server does).
func TestStrictRefusesFunctions(t *testing.T) {
	for _, dest := range []string{"b.{{split(1,-)}}", "b.{{random(3)}}.$1", "b.{{left(1,2)}}"} {
		if _, err := New("a.*", dest); !errors.Is(err, ErrFunctionNotForImport) {
			t.Errorf("New(a.*, %q): %v", dest, err)
		}
	}
	if _, err := New("a.*", "b.{{split(1)}}"); !errors.Is(err, ErrNotEnoughArgs) {
		t.Errorf("New(a.*, b.{{split(1)}}): %v", err)
	}
}
