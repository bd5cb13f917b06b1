package pubsub

import "testing"

func TestSubjectsCollide(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{">", "secret.x", true},
		{">", "$SYS.>", true},
		{"*.x", "secret.>", true},
		{"*.x", "secret.y", false},
		{"secret.*", "secret.>", true},
		{"foo.*", "*.bar", true},
		{"foo.>", "foo", false},
		{"foo", "foo.>", false},
		{"foo.*", "foo", false},
		{"foo.*.baz", "foo.bar.>", true},
		{"foo.*.baz", "foo.bar.qux", false},
		{"a.b.c", "a.*", false},
		{"*", ">", true},
		{"_INBOX.>", "$SYS.>", false},
	} {
		if got := SubjectsCollide(c.a, c.b); got != c.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := SubjectsCollide(c.b, c.a); got != c.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v (symmetry)", c.b, c.a, got, c.want)
		}
	}
}

func TestSubjectIsSubset(t *testing.T) {
	for _, c := range []struct {
		sub, pattern string
		want         bool
	}{
		{"foo.bar", "foo.>", true},
		{"foo.*", "foo.>", true},
		{"foo.>", "foo.>", true},
		{"foo.>", "foo.*", false},
		{"foo.>", ">", true},
		{">", "foo.>", false},
		{"*.bar", "foo.*", false},
		{"foo.bar", "foo.*", true},
		{"foo.*", "foo.*", true},
		{"foo.*", "*.*", true},
		{"foo", "foo.>", false},
		{"foo.bar.baz", "foo.*", false},
		{"foo.bar", "foo.bar", true},
		{"foo.bar", "foo.baz", false},
	} {
		if got := SubjectIsSubset(c.sub, c.pattern); got != c.want {
			t.Errorf("SubjectIsSubset(%q, %q) = %v, want %v", c.sub, c.pattern, got, c.want)
		}
	}
}

// FuzzSubjectRelations checks the relations against SubjectMatches on
// literal subjects built from the inputs: a subset never admits a subject
// its superset refuses, and two subjects that both match a literal collide.
func FuzzSubjectRelations(f *testing.F) {
	f.Add("foo.*", "foo.>", "foo.bar")
	f.Add(">", "secret.>", "secret.x")
	f.Add("*.x", "a.*", "a.x")
	f.Fuzz(func(t *testing.T, a, b, lit string) {
		if !ValidSubject(a) || !ValidSubject(b) || !ValidLiteralSubject(lit) {
			return
		}
		ma, mb := SubjectMatches(a, lit), SubjectMatches(b, lit)
		if ma && mb && !SubjectsCollide(a, b) {
			t.Fatalf("%q and %q both match %q but do not collide", a, b, lit)
		}
		if ma && !mb && SubjectIsSubset(a, b) {
			t.Fatalf("%q is called a subset of %q, but %q matches only the first", a, b, lit)
		}
		if SubjectsCollide(a, b) != SubjectsCollide(b, a) {
			t.Fatalf("collide(%q, %q) is not symmetric", a, b)
		}
	})
}
