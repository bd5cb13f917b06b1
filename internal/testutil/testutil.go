// Package testutil holds helpers shared by the test suites: waiting on a
// condition, and failing a test binary that leaks goroutines. Only _test
// files import it.
package testutil

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Eventually polls cond every couple of milliseconds until it holds, and
// fails t, naming what it waited for, if d passes first. Tests wait on
// conditions with it instead of sleeping.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Main runs the tests and removes what BrokerBinary built, for test
// binaries that do not check for leaked goroutines.
func Main(m *testing.M) {
	code := m.Run()
	removeBinary()
	os.Exit(code)
}

// LeakCheckMain runs the tests and then fails the binary if goroutines
// other than the test framework's are still running. It retries for up to
// five seconds: memberlist's probe goroutines and nats.go's connection
// goroutines outlive their Close by up to a probe interval.
func LeakCheckMain(m *testing.M) {
	code := m.Run()
	removeBinary()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for err := goleak.Find(); err != nil; err = goleak.Find() {
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
				code = 1
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	os.Exit(code)
}
