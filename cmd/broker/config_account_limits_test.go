package main

import (
	"io"
	"strings"
	"testing"
)

// TestConfigAccountLimits: an account's limits.max_leafnodes as
// nats-server reads it (0 allows none, negative any); the other limits
// are refused by name.
func TestConfigAccountLimits(t *testing.T) {
	for _, tc := range []struct {
		limits string
		want   int
		err    string
	}{
		{"max_leafnodes: 2", 2, ""},
		{"max_leafs: 0", -1, ""},
		{"max_leafnodes: -1", 0, ""},
		{"max_connections: 5", 0, "not supported by Murmur"},
		{"max_leafnodes: x", 0, "integer"},
	} {
		path := writeConf(t, t.TempDir(), "accounts { A { users: [ {user: a, password: a} ], limits: { "+tc.limits+" } } }")
		cfg, err := parseFlags([]string{"-c", path}, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.limits, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.limits, err)
		}
		if got := cfg.opts.Auth.Accounts[0].MaxLeafNodes; got != tc.want {
			t.Errorf("%s: MaxLeafNodes %d, want %d", tc.limits, got, tc.want)
		}
	}
}
