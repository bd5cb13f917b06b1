package broker

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Version is Murmur's own release, reported as murmur_version in INFO and
// /varz, in the -v output and in the gossip metadata. A release build
// stamps it (scripts/release.sh:
// -ldflags "-X github.com/murmurmq/murmur/broker.Version=1.2.3"); it is a
// variable only for that, and nothing else assigns it.
var Version = "0.1.0"

// ServerVersion is the nats-server release whose client-visible behaviour
// Murmur implements; it is the version INFO, /varz and the $SYS events
// report. Clients gate features on it (nats.go: key-value and object store
// need 2.6.2, its JetStream API shapes 2.7.2 and 2.9.0; the nats CLI:
// $SYS.REQ.USER.INFO in `nats account info` 2.10.0, `nats trace` 2.11.0),
// so it is the highest level at which no gated feature would misbehave:
// a gated JetStream call gets JetStream's own "not enabled" answer, not a
// version refusal. It stays below 2.11.0 because Murmur does not implement
// message tracing: a 2.11 server honours Nats-Trace-Only by not delivering
// the traced message, which Murmur would deliver. Raise it only with the
// features the new level's gates stand for (README, "Versions").
const ServerVersion = "2.10.0"

// buildCommit is the Git commit the binary was built from, when the build
// sets it: go build -ldflags "-X github.com/murmurmq/murmur/broker.buildCommit=$(git rev-parse HEAD)".
var buildCommit string

// GitCommit is the commit the binary was built from, shortened to 7
// characters as nats-server's git_commit: the -ldflags value if set, else
// the Go toolchain's VCS stamp (absent with -buildvcs=false); "" when
// neither is known. A stamp of a work tree with uncommitted changes ends
// in "-dirty".
func GitCommit() string {
	commitOnce.Do(func() { commit = findCommit(buildCommit, readVCS) })
	return commit
}

var (
	commitOnce sync.Once
	commit     string
)

// findCommit picks the commit from the -ldflags value or the build's VCS
// settings (vcs returns the revision and whether the tree was modified).
func findCommit(ldflags string, vcs func() (rev string, modified bool)) string {
	rev, modified := ldflags, false
	if rev == "" {
		rev, modified = vcs()
	}
	if r, ok := strings.CutSuffix(rev, "-dirty"); ok {
		rev, modified = r, true // a release script's stamp of a modified tree
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

func readVCS() (rev string, modified bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}
