package testutil

import (
	"bytes"
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

// Tool is LookTool for a test that needs the program: missing, the test
// is skipped, or fails when CI is set (CI installs it; install says how).
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	if p := LookTool(name); p != "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (%s)", name, install)
	}
	t.Skipf("%s is not installed (%s)", name, install)
	return ""
}

// NatsServer is the reference nats-server for side-by-side tests:
// $NATS_SERVER when set, else Tool("nats-server").
func NatsServer(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NATS_SERVER"); p != "" {
		return p
	}
	return Tool(t, "nats-server", ".ci/install-nats.sh")
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
