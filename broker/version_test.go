package broker

import "testing"

func TestFindCommit(t *testing.T) {
	vcs := func(rev string, modified bool) func() (string, bool) {
		return func() (string, bool) { return rev, modified }
	}
	for _, tc := range []struct {
		name, ldflags string
		vcs           func() (string, bool)
		want          string
	}{
		{"ldflags win over the VCS stamp", "0123456789abcdef", vcs("fedcba9876543210", true), "0123456"},
		{"VCS stamp without ldflags", "", vcs("fedcba9876543210", false), "fedcba9"},
		{"modified work tree", "", vcs("fedcba9876543210", true), "fedcba9-dirty"},
		{"short value kept", "abc", vcs("", false), "abc"},
		{"neither", "", vcs("", true), ""},
	} {
		if got := findCommit(tc.ldflags, tc.vcs); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
