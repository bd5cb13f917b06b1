package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/murmurmq/murmur/broker"
)

// printVersion writes -v's line: Murmur's version, the nats-server level
// it reports to clients, the commit it was built from and the Go version.
// The commit is stamped with
//
//	go build -ldflags "-X github.com/murmurmq/murmur/broker.buildCommit=$(git rev-parse HEAD)" ./cmd/broker
//
// or, without -ldflags, by the Go toolchain's VCS stamp (go build in a Git
// checkout, unless -buildvcs=false); broker.GitCommit picks.
func printVersion(w io.Writer) {
	commit := broker.GitCommit()
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(w, "murmur version %s (nats-server %s level), commit %s, %s\n",
		broker.Version, broker.ServerVersion, commit, runtime.Version())
}

// configDigest identifies a config file's content for /varz
// config_digest: "sha256:<hex>" of its bytes ("" if it cannot be read;
// it was just parsed, so only a race with an editor gets there).
func configDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}
