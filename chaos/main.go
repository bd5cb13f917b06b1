// Command chaos runs a five-broker Murmur cluster, each broker in its own
// Linux network namespace, through a seeded random schedule of faults
// (kill -9 and restart, SIGSTOP/SIGCONT, partition, 200 ms delay with 5 %
// loss, config reload, lame duck) while node SDK nodes, plain publishers
// and subscribers, queue groups and request/reply run on every broker,
// and checks what users rely on: acked node messages are never lost or
// handed over twice, plain messages are never duplicated or reordered on
// a stable path and lost only during faults, requests are answered at
// most once, and the cluster converges after every fault. docs/chaos.md
// has the details.
//
//	go run ./chaos -duration 30m -seed 42
//
// It needs root, iproute2 and nftables (and iptables where the kernel has
// no sch_netem). It prints the seed first; the same seed replays the same
// fault schedule. The exit status is 1 when an invariant was violated, 2
// when the harness could not run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

func main() {
	os.Exit(cli(os.Args[1:]))
}

func cli(args []string) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	duration := fs.Duration("duration", 2*time.Minute, "how long to inject faults")
	seed := fs.Uint64("seed", 0, "fault schedule seed (0: pick one and print it)")
	rate := fs.Float64("rate", 1, "traffic rate multiplier (1: 50 publishes/s, 10 requests/s, 20 directs/s and 2 broadcasts/s per broker)")
	bound := fs.Duration("converge", 5*time.Second, "longest convergence after a heal that is not a violation")
	jsonOut := fs.String("json", "", "also write the report as JSON to `file`")
	dir := fs.String("dir", "", "directory for configs and broker logs (default: a new temp dir)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("chaos: seed %d (replay with -seed %d)\n", *seed, *seed)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, config{
		Duration:      *duration,
		Seed:          *seed,
		Brokers:       5,
		Rates:         defaultRates.scaled(*rate),
		ConvergeBound: *bound,
		Root:          moduleRoot(),
		Dir:           *dir,
		Logf: func(f string, a ...any) {
			fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(f, a...))
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 2
	}
	rep.print(os.Stdout)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
			return 2
		}
	}
	if len(rep.Violations) > 0 {
		return 1
	}
	return 0
}

// moduleRoot is the module's root: the current directory's when it has a
// go.mod naming cmd/broker, else the one this file was compiled in.
func moduleRoot() string {
	if _, err := os.Stat(filepath.Join("cmd", "broker")); err == nil {
		wd, _ := os.Getwd()
		return wd
	}
	_, here, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(here))
}
