package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recordTB captures what Tool does to a test; Skip and Fatalf end the
// goroutine, as the real ones do.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runTool calls Tool on a fresh recordTB in its own goroutine.
func runTool(name, install string) (*recordTB, string) {
	r := &recordTB{}
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = Tool(r, name, install)
	}()
	<-done
	return r, got
}

// TestTool: a missing tool skips with its name and install command, or
// fails when CI is set; a present one (in ~/go/bin) is returned.
func TestTool(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", home)
	t.Setenv("GOPATH", "")
	const install = "apt-get install murmur-test-tool"

	t.Setenv("CI", "")
	r, _ := runTool("murmur-test-tool", install)
	if r.failed != "" || !strings.Contains(r.skipped, "murmur-test-tool") || !strings.Contains(r.skipped, install) {
		t.Fatalf("missing, no CI: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("CI", "1")
	r, _ = runTool("murmur-test-tool", install)
	if r.skipped != "" || !strings.Contains(r.failed, "murmur-test-tool") || !strings.Contains(r.failed, install) {
		t.Fatalf("missing, CI set: skipped %q, failed %q", r.skipped, r.failed)
	}

	bin := filepath.Join(home, "go", "bin", "murmur-test-tool")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r, got := runTool("murmur-test-tool", install); got != bin || r.skipped != "" || r.failed != "" {
		t.Fatalf("installed in ~/go/bin: got %q, skipped %q, failed %q", got, r.skipped, r.failed)
	}
}
