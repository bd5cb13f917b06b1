//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ldmSignals is the lame-duck signal, as nats-server's.
var ldmSignals = []os.Signal{syscall.SIGUSR2}

// reopenSignals reopens the log file, as nats-server's SIGUSR1.
var reopenSignals = []os.Signal{syscall.SIGUSR1}

// signalNames are --signal's commands. nats-server's "stop" is SIGKILL;
// ours is SIGTERM, a graceful stop that leaves the gossip cluster first.
var signalNames = map[string]syscall.Signal{
	"reload": syscall.SIGHUP,
	"ldm":    syscall.SIGUSR2,
	"reopen": syscall.SIGUSR1,
	"stop":   syscall.SIGTERM,
	"term":   syscall.SIGTERM,
	"quit":   syscall.SIGINT,
}

// sendSignal carries out --signal name=<pid or pid file>.
func sendSignal(spec string) error {
	name, target, _ := strings.Cut(spec, "=")
	sig, ok := signalNames[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("signal: unknown %q: want reload, reopen, ldm, stop, quit or term", name)
	}
	if target == "" {
		return fmt.Errorf("signal: %s needs =<pid or pid file>", name)
	}
	pid, err := strconv.Atoi(target)
	if err != nil {
		b, rerr := os.ReadFile(target)
		if rerr != nil {
			return fmt.Errorf("signal: %q is neither a pid nor a readable pid file: %w", target, rerr)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("signal: pid file %s: %w", target, err)
		}
	}
	if pid <= 0 {
		return fmt.Errorf("signal: bad pid %d", pid)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal: %s to pid %d: %w", name, pid, err)
	}
	return errSignalSent
}
