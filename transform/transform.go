// Package transform maps subjects as nats-server's subject transforms
// do: a source subject with wildcards, and a destination that places the
// tokens those wildcards matched ("a.*.*" to "b.$2.$1"), or computes
// tokens from them with mapping functions ({{partition(3,1)}},
// {{split(1,-)}}, ...). Subject mappings (a server's or an account's
// `mappings`) use every function and may send a share of the messages to
// each of several destinations (mapping.go); account imports use the
// strict form, wildcards only. It is pure: no goroutines, no I/O.
//
// nats-server's behaviour is the specification, its oddities included
// (docs/mappings.md lists them); errors carry its texts.
package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The errors of New and Parse, as nats-server words them; wrapped errors
// name the destination or token at fault ("... in b.$1").
var (
	ErrInvalidSubject       = errors.New("invalid subject")
	ErrInvalidDestination   = errors.New("invalid mapping destination")
	ErrInvalidTransform     = fmt.Errorf("%w: invalid transform", ErrInvalidDestination)
	ErrNotAllWildcards      = fmt.Errorf("%w: not using all of the token wildcard(s)", ErrInvalidDestination)
	ErrUnknownFunction      = fmt.Errorf("%w: unknown function", ErrInvalidDestination)
	ErrIndexOutOfRange      = fmt.Errorf("%w: wildcard index out of range", ErrInvalidDestination)
	ErrNotEnoughArgs        = fmt.Errorf("%w: not enough arguments passed to the function", ErrInvalidDestination)
	ErrInvalidArg           = fmt.Errorf("%w: function argument is invalid or in the wrong format", ErrInvalidDestination)
	ErrTooManyArgs          = fmt.Errorf("%w: too many arguments passed to the function", ErrInvalidDestination)
	ErrFunctionNotForImport = fmt.Errorf("%w: the only mapping function allowed for import transforms is {{Wildcard()}}", ErrInvalidDestination)
)

// destError is an error about one destination token (or the whole
// destination); without a token it reads as its error alone.
type destError struct {
	token string
	err   error
}

func (e *destError) Error() string {
	if e.token == "" {
		return e.err.Error()
	}
	return e.err.Error() + " in " + e.token
}
func (e *destError) Unwrap() error { return e.err }

// Transform maps subjects that match its source to its destination. A
// Transform is immutable and safe for concurrent use.
type Transform struct {
	src, dest string
	nsrc      int         // tokens of the source, its ">" included
	dtoks     []destToken // the destination's tokens
	tail      bool        // the destination ends in ">"
}

// destToken is one destination token: a literal (lit), or a function of
// the subject's tokens at the indexes from.
type destToken struct {
	fn   fn
	lit  string // fnLiteral: the token; fnSplit: the delimiter
	from []int  // indexes into the subject's tokens
	n    int32  // the integer argument
}

// New returns the strict transform from src to dest, the form account
// imports use: dest places the wildcards of src by number ($1 is the
// first "*" of src) and uses every one of them, and no other function;
// Tokenize turns a destination written with "*" into that form. A
// source without wildcards maps every subject (there is only one) to
// dest.
func New(src, dest string) (*Transform, error) { return build(src, dest, true) }

// Parse returns the transform of a subject mapping from src to dest,
// checked as nats-server checks a mapping's destination: any mapping
// function, wildcards used any number of times (none included).
func Parse(src, dest string) (*Transform, error) {
	if err := checkDestination(dest); err != nil {
		return nil, err
	}
	return build(src, dest, false)
}

// checkDestination is nats-server's check of a mapping destination
// before its transform is built: no empty token, nothing after ">", no
// white space in a literal, and every {{...}} token a known function.
func checkDestination(dest string) error {
	fwc := false
	for _, t := range strings.Split(dest, ".") {
		switch {
		case t == "" || fwc:
			return &destError{t, ErrInvalidTransform}
		case mustacheShaped(t):
			if !knownCall(t) {
				return &destError{t, ErrUnknownFunction}
			}
		case t == ">":
			fwc = true
		case strings.ContainsAny(t, "\t\n\f\r "):
			return ErrInvalidTransform
		}
	}
	return nil
}

// knownCall reports whether t holds a call of any mapping function.
func knownCall(t string) bool {
	for _, f := range functions {
		if _, ok := findCall(t, f.name); ok {
			return true
		}
	}
	return false
}

func build(src, dest string, strict bool) (*Transform, error) {
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
	tr := &Transform{src: src, dest: dest, nsrc: len(stoks), tail: dfwc}
	placed := 0
	for _, t := range dtoks {
		c, err := readToken(t)
		switch {
		case err != nil:
			return nil, err
		case strict && c.fn != fnLiteral && c.fn != fnWildcard:
			return nil, &destError{t, ErrFunctionNotForImport}
		case c.fn == fnLiteral && t == ">":
			tr.dtoks = append(tr.dtoks, destToken{fn: fnTail})
			continue
		case c.fn == fnLiteral:
			tr.dtoks = append(tr.dtoks, destToken{fn: fnLiteral, lit: t})
			continue
		case spwcs == 0 && !sfwc:
			// Nothing to place: only the functions of no token (the
			// partition of the whole subject, random) make sense.
			if c.fn != fnPartition && c.fn != fnRandom {
				return nil, &destError{t, ErrIndexOutOfRange}
			}
			tr.dtoks = append(tr.dtoks, destToken{fn: c.fn, n: c.n})
			continue
		}
		d := destToken{fn: c.fn, lit: c.str, n: c.n}
		for _, n := range c.wilds {
			switch {
			case n > spwcs, strict && n < 1:
				// nats-server reads wildcard 0 (and below) as the first
				// token of the subject; mappings do so too, imports
				// refuse it.
				return nil, &destError{fmt.Sprintf("%s: [%d]", t, n), ErrIndexOutOfRange}
			case n < 1:
				d.from = append(d.from, 0)
			default:
				d.from = append(d.from, pos[n-1])
			}
		}
		placed += len(c.wilds)
		tr.dtoks = append(tr.dtoks, d)
	}
	if strict && placed < spwcs {
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
