package broker

import "testing"

func TestLeafFilter(t *testing.T) {
	f := filterOf(&subjectPerm{Allow: []string{"down.>", "_INBOX.>", "q.* grp"}, Deny: []string{"down.secret", "down.q q1"}}, []string{"down.skip.>"})
	for _, tc := range []struct {
		subject          string
		admits, interest bool
	}{
		{"down.a", true, true},
		{"down.secret", false, false},
		{"down.skip.x", false, false},
		{"down.skip", true, true},
		{"down.q", true, true}, // queue entries do not count for a leaf
		{"q.x", false, false},
		{"up.x", false, false},
		{"_INBOX.abc", true, true},
		{"down.*", false, true},       // a wildcard: some of it may come
		{">", false, true},            // holds allowed subjects
		{"down.skip.*", false, false}, // wholly denied
	} {
		if tc.subject[len(tc.subject)-1] != '*' && tc.subject != ">" {
			if got := f.admits(tc.subject); got != tc.admits {
				t.Errorf("admits(%q) = %v", tc.subject, got)
			}
		}
		if got := f.interest(tc.subject); got != tc.interest {
			t.Errorf("interest(%q) = %v", tc.subject, got)
		}
	}
	var none leafFilter
	if none.active() || !none.admits("x") || !none.interest(">") {
		t.Error("an empty filter must admit everything")
	}
	if f := filterOf(&subjectPerm{Allow: []string{}}, nil); !f.active() || f.admits("x") || f.interest(">") {
		t.Error("an empty allow list admits nothing")
	}
}

func BenchmarkLeafFilterAdmits(b *testing.B) {
	f := filterOf(&subjectPerm{Allow: []string{"down.>", "_INBOX.>"}, Deny: []string{"down.secret"}}, []string{"down.skip"})
	subject := []byte("down.some.subject")
	b.ReportAllocs()
	for b.Loop() {
		if !f.admits(string(subject)) {
			b.Fatal("refused")
		}
	}
}
