// Package transform maps subjects, as nats-server's subject transforms do
// for account imports: a source subject with wildcards, and a destination
// that places the tokens those wildcards matched ("a.*.*" to "b.$2.$1").
// It is pure: no goroutines, no I/O.
//
// Only the strict form exists here, the one imports need: the destination
// may use the source's wildcards only ($N or {{wildcard(N)}}; no
// partition, split or other functions), must use as many of them as the
// source has, and has a trailing ">" exactly when the source has one.
// Errors carry nats-server's texts.
package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The errors of New, as nats-server words them; wrapped errors name the
// destination or token at fault ("... in b.$1").
var (
	ErrInvalidSubject       = errors.New("invalid subject")
	ErrInvalidDestination   = errors.New("invalid mapping destination")
	ErrNotAllWildcards      = fmt.Errorf("%w: not using all of the token wildcard(s)", ErrInvalidDestination)
	ErrUnknownFunction      = fmt.Errorf("%w: unknown function", ErrInvalidDestination)
	ErrIndexOutOfRange      = fmt.Errorf("%w: wildcard index out of range", ErrInvalidDestination)
	ErrNotEnoughArgs        = fmt.Errorf("%w: not enough arguments passed to the function", ErrInvalidDestination)
	ErrInvalidArg           = fmt.Errorf("%w: function argument is invalid or in the wrong format", ErrInvalidDestination)
	ErrTooManyArgs          = fmt.Errorf("%w: too many arguments passed to the function", ErrInvalidDestination)
	ErrFunctionNotForImport = fmt.Errorf("%w: the only mapping function allowed for import transforms is {{Wildcard()}}", ErrInvalidDestination)
)

// destError is an error about one destination token (or the whole
// destination).
type destError struct {
	token string
	err   error
}

func (e *destError) Error() string { return e.err.Error() + " in " + e.token }
func (e *destError) Unwrap() error { return e.err }

// Transform maps subjects that match its source to its destination. A
// Transform is immutable and safe for concurrent use.
type Transform struct {
	src, dest string
	nsrc      int         // tokens of the source, its ">" included
	dtoks     []destToken // the destination's tokens
}

// destToken is one destination token: a literal, the source token at
// index from, or (tail) the tokens the source's ">" matched.
type destToken struct {
	lit  string
	from int // index into the subject's tokens; -1 for a literal
	tail bool
}

// New returns the strict transform from src to dest. dest places the
// wildcards of src by number ($1 is the first "*" of src); Tokenize turns
// a destination written with "*" into that form. A source without
// wildcards maps every subject (there is only one) to dest.
func New(src, dest string) (*Transform, error) {
	stoks, spwcs, sfwc, ok := info(src)
	dtoks, dpwcs, dfwc, dok := info(dest)
	if !ok || !dok || dpwcs > 0 || sfwc != dfwc {
		return nil, ErrInvalidSubject
	}
	// wildcard number n (1-based) is source token pos[n-1]
	var pos []int
	for i, t := range stoks {
		if t == "*" {
			pos = append(pos, i)
		}
	}
	tr := &Transform{src: src, dest: dest, nsrc: len(stoks)}
	placed := 0
	for _, t := range dtoks {
		n, isWildcard, err := placeholder(t)
		switch {
		case err != nil:
			return nil, err
		case !isWildcard && t == ">":
			tr.dtoks = append(tr.dtoks, destToken{tail: true, from: -1})
			continue
		case !isWildcard:
			tr.dtoks = append(tr.dtoks, destToken{lit: t, from: -1})
			continue
		case spwcs == 0 && !sfwc:
			return nil, &destError{t, ErrIndexOutOfRange}
		case n < 1 || n > spwcs:
			// nats-server takes $0 (and below) as the first token of
			// the subject, by accident; here it is out of range.
			return nil, &destError{fmt.Sprintf("%s: [%d]", t, n), ErrIndexOutOfRange}
		}
		placed++
		tr.dtoks = append(tr.dtoks, destToken{from: pos[n-1]})
	}
	if placed < spwcs {
		return nil, &destError{dest, ErrNotAllWildcards}
	}
	return tr, nil
}

// Source is the subject pattern the transform applies to.
func (t *Transform) Source() string { return t.src }

// Destination is the destination as given to New.
func (t *Transform) Destination() string { return t.dest }

// Reverse is the transform that undoes t: from t's destination (its
// placeholders read as "*") back to t's source, the wildcards placed in
// the order t's destination uses them. It is how a service import, whose
// local subject is written as the destination of the exported one, maps
// requests from the local subject to the exported one.
func (t *Transform) Reverse() (*Transform, error) {
	src, placeholders := Untokenize(t.dest)
	stoks := strings.Split(t.src, ".")
	for i, tok := range stoks {
		if tok != "*" {
			continue
		}
		if len(placeholders) == 0 {
			return nil, &destError{t.dest, ErrNotAllWildcards}
		}
		stoks[i], placeholders = placeholders[0], placeholders[1:]
	}
	return New(src, strings.Join(stoks, "."))
}

// Append appends the mapping of subject, which must match the source, to
// dst and returns the extended slice. It allocates only when dst is short
// or the subject has more than 32 tokens.
func (t *Transform) Append(dst, subject []byte) []byte {
	var stack [32][]byte
	toks := stack[:0]
	for start, i := 0, 0; i <= len(subject); i++ {
		if i == len(subject) || subject[i] == '.' {
			toks = append(toks, subject[start:i])
			start = i + 1
		}
	}
	for i, d := range t.dtoks {
		if i > 0 {
			dst = append(dst, '.')
		}
		switch {
		case d.tail:
			for j := t.nsrc - 1; j < len(toks); j++ {
				if j > t.nsrc-1 {
					dst = append(dst, '.')
				}
				dst = append(dst, toks[j]...)
			}
		case d.from >= 0:
			if d.from < len(toks) {
				dst = append(dst, toks[d.from]...)
			}
		default:
			dst = append(dst, d.lit...)
		}
	}
	return dst
}

// Subject is Append for strings.
func (t *Transform) Subject(subject string) string {
	return string(t.Append(make([]byte, 0, len(subject)+len(t.dest)), []byte(subject)))
}

// Tokenize numbers the "*" tokens of subject as placeholders, in order:
// "foo.*.*" becomes "foo.$1.$2". Other tokens, placeholders already
// written among them, are kept.
func Tokenize(subject string) string {
	toks := strings.Split(subject, ".")
	n := 0
	for i, t := range toks {
		if t == "*" {
			n++
			toks[i] = "$" + strconv.Itoa(n)
		}
	}
	return strings.Join(toks, ".")
}

// Untokenize turns the placeholders of a destination back into "*" and
// returns them in order: "foo.$2.$1" gives "foo.*.*" and ["$2", "$1"].
func Untokenize(subject string) (string, []string) {
	var placeholders []string
	toks := strings.Split(subject, ".")
	for i, t := range toks {
		if t != "" && (len(t) > 1 && t[0] == '$' && t[1] >= '1' && t[1] <= '9' || wildcardArg(t)) {
			placeholders = append(placeholders, t)
			toks[i] = "*"
		}
	}
	return strings.Join(toks, "."), placeholders
}

// info splits a subject into tokens and counts its wildcards; ok is false
// for an empty token or a token after ">".
func info(subject string) (toks []string, pwcs int, fwc, ok bool) {
	if subject == "" {
		return nil, 0, false, false
	}
	toks = strings.Split(subject, ".")
	for _, t := range toks {
		if t == "" || fwc {
			return nil, 0, false, false
		}
		switch t {
		case ">":
			fwc = true
		case "*":
			pwcs++
		}
	}
	return toks, pwcs, fwc, true
}

// placeholder reads one destination token: $N, {{wildcard(N)}}, another
// {{function(...)}} (refused: imports take wildcards only), or a literal.
// A "$" followed by other than a number is a literal.
func placeholder(t string) (n int, isWildcard bool, err error) {
	if len(t) > 1 && t[0] == '$' {
		n, err := strconv.Atoi(t[1:])
		if err != nil {
			return 0, false, nil
		}
		return n, true, nil
	}
	if len(t) <= 4 || !strings.HasPrefix(t, "{{") || !strings.HasSuffix(t, "}}") {
		return 0, false, nil
	}
	name, args, ok := mustache(t)
	switch {
	case !ok:
		return 0, false, &destError{t, ErrUnknownFunction}
	case camelIs(name, "Wildcard"):
	case knownFunction(name):
		return 0, false, &destError{t, ErrFunctionNotForImport}
	default:
		return 0, false, &destError{t, ErrUnknownFunction}
	}
	switch {
	case len(args) == 1 && args[0] == "":
		return 0, false, &destError{t, ErrNotEnoughArgs}
	case len(args) > 1:
		return 0, false, &destError{t, ErrTooManyArgs}
	}
	n, err = strconv.Atoi(strings.Trim(args[0], " "))
	if err != nil {
		return 0, false, &destError{t, ErrInvalidArg}
	}
	return n, true, nil
}

// mustache splits "{{ name(arg, arg) }}" into its name and arguments
// (separated by a comma and optional spaces); ok is false when t is not
// of that form.
func mustache(t string) (name string, args []string, ok bool) {
	if len(t) <= 4 || !strings.HasPrefix(t, "{{") || !strings.HasSuffix(t, "}}") {
		return "", nil, false
	}
	in := strings.TrimSpace(t[2 : len(t)-2])
	open, end := strings.IndexByte(in, '('), strings.LastIndexByte(in, ')')
	if open < 0 || end != len(in)-1 {
		return "", nil, false
	}
	name = strings.TrimSpace(in[:open])
	list := in[open+1 : end]
	for {
		a, rest, more := strings.Cut(list, ",")
		args = append(args, a)
		if !more {
			break
		}
		list = strings.TrimLeft(rest, " \t\r\n\f\v")
	}
	return name, args, name != ""
}

// wildcardArg reports whether t is {{wildcard(x)}} with one non-empty
// argument, which Untokenize counts as a placeholder.
func wildcardArg(t string) bool {
	name, args, ok := mustache(t)
	return ok && camelIs(name, "Wildcard") && len(args) == 1 && args[0] != ""
}

// The mapping functions nats-server knows besides wildcard.
var functions = []string{"Partition", "SplitFromLeft", "SplitFromRight", "SliceFromLeft", "SliceFromRight", "Split", "Left", "Right", "Random"}

func knownFunction(name string) bool {
	for _, f := range functions {
		if camelIs(name, f) {
			return true
		}
	}
	return false
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
