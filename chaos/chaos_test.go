package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaos runs the harness for about two minutes (CHAOS_DURATION
// overrides, CHAOS_SEED replays) and fails on any violated invariant. It
// skips under -short and where network namespaces cannot be made.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes minutes")
	}
	if err := checkNetns(); err != nil {
		t.Skip(err) // .ci/run installs the tools; a container without CAP_SYS_ADMIN still skips
	}
	duration := 100 * time.Second
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CHAOS_DURATION: %v", err)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay: CHAOS_SEED=%d go test -run TestChaos ./chaos/, or go run ./chaos -seed %d)", seed, seed, seed)
	dir := t.TempDir()
	// nats.go runs its handlers on its own goroutine, which may still log
	// as the run returns; t.Logf after the test ends would panic.
	var logMu sync.Mutex
	done := false
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
	defer func() {
		logMu.Lock()
		done = true
		logMu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Minute)
	defer cancel()
	rep, err := run(ctx, config{
		Duration:      duration,
		Seed:          seed,
		Brokers:       5,
		Rates:         defaultRates,
		ConvergeBound: 10 * time.Second,
		Root:          "..",
		Dir:           dir,
		Logf:          logf,
	})
	if errors.Is(err, errNoNetns) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.print(&b)
	t.Log("\n" + b.String())
	if len(rep.Violations) > 0 {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil {
				t.Logf("--- tail of %s ---\n%s", filepath.Base(l), tail(string(data), 40))
			}
		}
		t.Fatalf("%d invariant violations, seed %d", len(rep.Violations), seed)
	}
	for _, k := range allFaults {
		if rep.Faults[k] == 0 && duration >= 90*time.Second {
			t.Errorf("no %s fault injected in %v", k, duration)
		}
	}
	if rep.Plain.QuietExpected == 0 || rep.Node.Confirmed == 0 || rep.Requests.Answered == 0 {
		t.Errorf("the run checked nothing: %+v %+v %+v", rep.Plain, rep.Node, rep.Requests)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
