package main

import (
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
)

// TestHelpPlacesEveryFlag: every registered flag has a group in
// helpGroups (a new flag lands in "Other Options" and fails here until it
// gets one), and the table names no flag that is not registered.
func TestHelpPlacesEveryFlag(t *testing.T) {
	fs := registerFlags(&config{})
	if other := unplacedFlags(fs); len(other) > 0 {
		t.Errorf("flags with no --help group (add them to helpGroups in help.go): %v", other)
	}
	for _, g := range helpGroups {
		for _, set := range g.flags {
			for _, n := range set {
				if name := strings.TrimLeft(n, "-"); fs.Lookup(name) == nil && name != "h" && name != "help" {
					t.Errorf("helpGroups %s lists %s, which is not a flag", g.title, n)
				}
			}
		}
	}
}

// TestHelpOutput: --help goes to stdout, in nats-server's groups, each
// flag on one line with its aliases, none twice.
func TestHelpOutput(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr strings.Builder
		if err := run([]string{arg}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s: %v", arg, err)
		}
		out := stdout.String()
		if stderr.Len() != 0 || !strings.HasPrefix(out, "Usage: broker [options]\n") {
			t.Fatalf("%s: stdout %q, stderr %q", arg, out, stderr.String())
		}
		for _, g := range []string{"Server", "Logging", "Authorization", "TLS", "Cluster", "Gossip", "QUIC", "WebSocket", "Monitoring"} {
			if !strings.Contains(out, "\n"+g+" Options:\n") {
				t.Errorf("no %s group", g)
			}
		}
		if strings.Contains(out, "Other Options") {
			t.Errorf("flags without a group:\n%s", out)
		}
		for _, line := range []string{
			"    -a, --addr, --net <host> ",
			"    -n, --name, --server_name <name> ",
			"    --cluster, --cluster_listen <host:port> ",
			"    -m, --http_port <port> ",
			"    --max_payload <bytes> ",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("no line starting %q", line)
			}
		}
		// Each flag name appears once as a name on the left.
		seen := map[string]int{}
		names := regexp.MustCompile(`(?:^|, )(--?[A-Za-z_]+)`)
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "    -") {
				continue
			}
			left, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
			for _, m := range names.FindAllStringSubmatch(left, -1) {
				seen[strings.TrimLeft(m[1], "-")]++
			}
		}
		registerFlags(&config{}).VisitAll(func(f *flag.Flag) {
			if seen[f.Name] != 1 {
				t.Errorf("%s: listed %d times", f.Name, seen[f.Name])
			}
		})
	}
}

// TestBadFlagOneLine: a bad flag is one line naming it and pointing at
// --help, not the usage.
func TestBadFlagOneLine(t *testing.T) {
	var stdout, stderr strings.Builder
	err := run([]string{"--nope"}, &stdout, &stderr)
	if err == nil || err.Error() != "flag provided but not defined: -nope (see --help)" || stdout.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("err %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}
