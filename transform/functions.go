package transform

import (
	"math"
	"strconv"
	"strings"
)

// fn is what one destination token does.
type fn uint8

const (
	fnLiteral        fn = iota // the token as written
	fnTail                     // ">": the tokens the source's ">" matched
	fnWildcard                 // $N, {{wildcard(N)}}
	fnPartition                // {{partition(n, N...)}}
	fnSplitFromLeft            // {{splitFromLeft(N, pos)}}
	fnSplitFromRight           // {{splitFromRight(N, pos)}}
	fnSliceFromLeft            // {{sliceFromLeft(N, size)}}
	fnSliceFromRight           // {{sliceFromRight(N, size)}}
	fnSplit                    // {{split(N, delimiter)}}
	fnLeft                     // {{left(N, length)}}
	fnRight                    // {{right(N, length)}}
	fnRandom                   // {{random(n)}}
)

// functions are the mapping functions, in the order nats-server looks
// for them in a token: a token holding two calls is the first of this
// list it holds, not its leftmost.
var functions = []struct {
	name string // canonical spelling: each capital may be written in either case
	fn   fn
}{
	{"Wildcard", fnWildcard},
	{"Partition", fnPartition},
	{"SplitFromLeft", fnSplitFromLeft},
	{"SplitFromRight", fnSplitFromRight},
	{"SliceFromLeft", fnSliceFromLeft},
	{"SliceFromRight", fnSliceFromRight},
	{"Right", fnRight},
	{"Left", fnLeft},
	{"Split", fnSplit},
	{"Random", fnRandom},
}

// call is one destination token as read: its function, the wildcard
// numbers it takes (1-based, as written), its integer argument and its
// string argument (split's delimiter).
type call struct {
	fn    fn
	wilds []int
	n     int32
	str   string
}

// readToken reads one destination token: $N (a "$" followed by other
// than a number is a literal), a {{function(...)}} token (one that
// starts with "{{" and ends with "}}"), or a literal.
func readToken(t string) (call, error) {
	if len(t) > 1 && t[0] == '$' {
		n, err := strconv.Atoi(t[1:])
		if err != nil {
			return call{fn: fnLiteral}, nil
		}
		return call{fn: fnWildcard, wilds: []int{n}}, nil
	}
	if !mustacheShaped(t) {
		return call{fn: fnLiteral}, nil
	}
	for _, f := range functions {
		if args, ok := findCall(t, f.name); ok {
			return readArgs(t, f.fn, splitArgs(args))
		}
	}
	return call{}, &destError{t, ErrUnknownFunction}
}

// mustacheShaped reports whether t is read as a function token.
func mustacheShaped(t string) bool {
	return len(t) > 4 && strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}")
}

// readArgs checks a function's arguments as nats-server does, with its
// errors.
func readArgs(t string, f fn, args []string) (call, error) {
	bad := func(err error) (call, error) { return call{}, &destError{t, err} }
	switch f {
	case fnWildcard:
		switch {
		case len(args) == 1 && args[0] == "":
			return bad(ErrNotEnoughArgs)
		case len(args) > 1:
			return bad(ErrTooManyArgs)
		}
		n, err := atoi(args[0])
		if err != nil {
			return bad(ErrInvalidArg)
		}
		return call{fn: f, wilds: []int{n}}, nil
	case fnPartition:
		n, err := atoi(args[0])
		if err != nil || n > math.MaxInt32 {
			return bad(ErrInvalidArg)
		}
		c := call{fn: f, n: int32(n)}
		for _, a := range args[1:] {
			i, err := atoi(a)
			if err != nil {
				return bad(ErrInvalidArg)
			}
			c.wilds = append(c.wilds, i)
		}
		return c, nil
	case fnRandom:
		if len(args) != 1 {
			return bad(ErrNotEnoughArgs) // nats-server's word for too many as well
		}
		n, err := atoi(args[0])
		if err != nil || n > math.MaxInt32 {
			return bad(ErrInvalidArg)
		}
		return call{fn: f, n: int32(n)}, nil
	}
	// The rest take a wildcard number and one more argument.
	switch {
	case len(args) < 2:
		return bad(ErrNotEnoughArgs)
	case len(args) > 2:
		return bad(ErrTooManyArgs)
	}
	i, err := atoi(args[0])
	if err != nil {
		return bad(ErrInvalidArg)
	}
	if f == fnSplit {
		if strings.ContainsAny(args[1], " .") {
			return bad(ErrInvalidArg)
		}
		return call{fn: f, wilds: []int{i}, str: args[1]}, nil
	}
	n, err := strconv.ParseInt(strings.Trim(args[1], " "), 10, 32)
	if err != nil {
		return bad(ErrInvalidArg)
	}
	return call{fn: f, wilds: []int{i}, n: int32(n)}, nil
}

// atoi reads an integer argument, spaces around it allowed.
func atoi(s string) (int, error) { return strconv.Atoi(strings.Trim(s, " ")) }

// findCall finds "{{ name( args ) }}" in t, where it starts first, and
// returns what is between the parentheses. It reads as nats-server's
// pattern for a function does (`{{\s*name\s*\((.*)\)\s*}}`, searched
// for anywhere in the token, the arguments as long as they can be and
// not across a line break), so it accepts and refuses the same tokens.
func findCall(t, name string) (args string, ok bool) {
	for i := strings.Index(t, "{{"); i >= 0; {
		if a, ok := callAt(t[i+2:], name); ok {
			return a, true
		}
		next := strings.Index(t[i+1:], "{{")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return "", false
}

// callAt matches `\s*name\s*\((.*)\)\s*}}` at the start of s.
func callAt(s, name string) (string, bool) {
	s = trimSpace(s)
	if len(s) < len(name) || !camelIs(s[:len(name)], name) {
		return "", false
	}
	s = trimSpace(s[len(name):])
	if s == "" || s[0] != '(' {
		return "", false
	}
	s = s[1:]
	line := s
	if nl := strings.IndexByte(s, '\n'); nl >= 0 {
		line = s[:nl]
	}
	for end := strings.LastIndexByte(line, ')'); end >= 0; end = strings.LastIndexByte(line[:end], ')') {
		if strings.HasPrefix(trimSpace(s[end+1:]), "}}") {
			return s[:end], true
		}
	}
	return "", false
}

// isSpace is a regular expression's \s.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

func trimSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// splitArgs splits arguments at each comma, dropping the white space
// after it (not before: "1 ,2" is "1 " and "2").
func splitArgs(list string) []string {
	var args []string
	for {
		a, rest, more := strings.Cut(list, ",")
		args = append(args, a)
		if !more {
			return args
		}
		list = trimSpace(rest)
	}
}

// camelIs compares a function name as nats-server does: each capital of
// the canonical name may be written in either case, the other letters
// only in lower case ("splitFromLeft", "Splitfromleft").
func camelIs(name, canonical string) bool {
	if len(name) != len(canonical) {
		return false
	}
	for i := range len(name) {
		c, n := canonical[i], name[i]
		if c != n && !(c >= 'A' && c <= 'Z' && n == c+('a'-'A')) {
			return false
		}
	}
	return true
}

// wildcardArg reports whether t holds {{wildcard(x)}} with one non-empty
// argument, which Untokenize counts as a placeholder.
func wildcardArg(t string) bool {
	args, ok := findCall(t, "Wildcard")
	return ok && !strings.Contains(args, ",") && args != ""
}
