package pubsub

// Relations between two subscription subjects (both may hold wildcards),
// for permission checks: whether a subscription could receive a subject a
// deny rule names, and whether an allow rule admits everything a
// subscription could receive. Both treat the subjects as the sets of
// literal subjects they match.

// SubjectsCollide reports whether some literal subject matches both a and b
// (nats-server's SubjectsCollide). "foo.*" and "*.bar" collide (foo.bar);
// "foo.>" and "foo" do not.
func SubjectsCollide(a, b string) bool {
	for {
		at, arest, amore := cut(a)
		bt, brest, bmore := cut(b)
		if at == ">" || bt == ">" {
			// ">" takes one or more tokens: the other side has at least
			// this one, and anything after it is absorbed.
			return true
		}
		if at != "*" && bt != "*" && at != bt {
			return false
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}

// SubjectIsSubset reports whether every literal subject that sub matches is
// also matched by pattern. "foo.bar" and "foo.*" are subsets of "foo.>";
// "foo.>" is not a subset of "foo.*", nor "*.bar" of "foo.*".
func SubjectIsSubset(sub, pattern string) bool {
	for {
		st, srest, smore := cut(sub)
		pt, prest, pmore := cut(pattern)
		switch {
		case pt == ">":
			return true // sub has at least this token left
		case st == ">":
			return false // sub takes any number of tokens here; pattern does not
		case pt == "*":
		case st == "*" || st != pt:
			return false
		}
		if !smore || !pmore {
			return smore == pmore
		}
		sub, pattern = srest, prest
	}
}

// HasWildcard reports whether the subject holds a `*` or `>` token.
func HasWildcard(s string) bool {
	for {
		t, rest, more := cut(s)
		if t == "*" || t == ">" {
			return true
		}
		if !more {
			return false
		}
		s = rest
	}
}
