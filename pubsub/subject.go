// Package pubsub is the subscription index: subjects split into tokens, a trie
// with literal, `*` and `>` levels, queue groups, and a match cache. It is a
// pure data structure: no goroutines, no I/O, safe for concurrent use.
package pubsub

// Subject rules (NATS): tokens are separated by '.', must be non-empty and may
// not contain whitespace. `*` matches exactly one token, `>` one or more
// trailing tokens and may only be last. A wildcard is only a wildcard when it
// is the whole token.

const (
	tsep = '.'
	pwc  = '*'
	fwc  = '>'
)

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f'
}

// ValidSubject reports whether s is a valid subscription subject
// (wildcards allowed).
func ValidSubject(s string) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != tsep {
			if isSpace(s[i]) || s[i] == 0 {
				return false
			}
			continue
		}
		tok := s[start:i]
		if tok == "" {
			return false
		}
		if tok == ">" && i != len(s) {
			return false
		}
		start = i + 1
	}
	return true
}

// ValidLiteralSubject reports whether s is a valid subject without wildcards,
// as required of publish subjects in pedantic mode.
func ValidLiteralSubject(s string) bool {
	if !ValidSubject(s) {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == tsep {
			if tok := s[start:i]; tok == "*" || tok == ">" {
				return false
			}
			start = i + 1
		}
	}
	return true
}

// ValidQueueName reports whether q can name a queue group.
func ValidQueueName(q string) bool {
	if q == "" {
		return false
	}
	for i := 0; i < len(q); i++ {
		if isSpace(q[i]) || q[i] == 0 {
			return false
		}
	}
	return true
}

// SubjectMatches reports whether the literal subject matches the pattern
// (which may hold wildcards). It is used outside the index, e.g. to test one
// subscription against one subject.
func SubjectMatches(pattern, subject string) bool {
	for {
		pt, prest, pmore := cut(pattern)
		st, srest, smore := cut(subject)
		switch {
		case pt == ">":
			return st != ""
		case pt == "*":
			if st == "" {
				return false
			}
		case pt != st:
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

// cut splits s at its first '.'.
func cut(s string) (tok, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == tsep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
