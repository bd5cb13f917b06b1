package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// LookTool finds an external program the tests run beside the broker
// (nats-server, the nats CLI, node, chromium): on PATH, else in
// $GOPATH/bin or ~/go/bin, where `go install` puts them. "" if missing.
func LookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// How to install the tools the tests use, for Tool's skip and failure
// messages. .ci/run installs all of them.
const (
	InstallNatsCLI    = "go install github.com/nats-io/natscli/nats@v0.5.0, or sh .ci/install-nats.sh"
	InstallNatsServer = "go install github.com/nats-io/nats-server/v2@v2.15.2, or sh .ci/install-nats.sh"
	InstallChromium   = "apt-get install chromium, or sh monitor/testdata/install-chromium.sh"
	InstallNode       = "apt-get install nodejs (Node 20 or later)"
	InstallOpenSSL    = "apt-get install openssl"
)

// Tool is LookTool for a test that needs the program. Missing, the test is
// skipped with a message naming the program and install (how to install
// it); with the CI environment variable set it fails instead, so a CI run
// cannot pass by skipping what it was meant to check.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	if p := LookTool(name); p != "" {
		return p
	}
	msg := fmt.Sprintf("needs %s, not found on PATH, in $GOPATH/bin or in ~/go/bin; install: %s", name, install)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: a missing tool fails the test instead of skipping it)", msg)
	}
	t.Skip(msg)
	return ""
}

// NatsServer is the reference nats-server for side-by-side tests:
// $NATS_SERVER when set, else Tool("nats-server").
func NatsServer(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NATS_SERVER"); p != "" {
		return p
	}
	return Tool(t, "nats-server", InstallNatsServer)
}

// SyncBuffer collects a process's output while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
