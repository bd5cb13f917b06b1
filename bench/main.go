// Command bench compares Murmur's broker with nats-server side by side.
//
//	cd bench && go run .            # full run, writes RESULTS.md
//	cd bench && go run . -smoke     # quick check that the harness works
//	cd bench && go run . -h         # flags
//
// It builds both brokers (ours from ../cmd/broker, nats-server at the
// version bench/go.mod pins), runs every workload against a fresh broker of
// each kind in turn on a free 127.0.0.1 port, and prints medians and the
// median per-pair ratio ours / nats-server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	pairs      int
	warmup     bool
	smoke      bool
	scale      float64
	only       string
	oursBin    string
	natsBin    string
	cpuprofile string
	results    string
	resultsSet bool // -results given: a partial (-only) run writes it too
	sink       bool
	timeout    time.Duration
	list       bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.pairs, "pairs", 3, "measured pairs of runs (ours, nats-server) per workload")
	fs.BoolVar(&o.warmup, "warmup", true, "run each side once per workload before measuring")
	fs.BoolVar(&o.smoke, "smoke", false, "quick harness check: 1 pair, no warm-up, counts ×0.1, no RESULTS.md")
	fs.Float64Var(&o.scale, "scale", 1, "multiply message and connection counts by this `factor` (RESULTS.md is written only at 1)")
	fs.StringVar(&o.only, "only", "", "run only workloads whose name matches this `regexp` (no RESULTS.md)")
	fs.StringVar(&o.oursBin, "ours-bin", "", "use this broker `binary` as ours instead of building ../cmd/broker")
	fs.StringVar(&o.natsBin, "nats-bin", "", "use this nats-server `binary` instead of building the pinned one")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "`directory` for CPU profiles of our broker, one per run (needs "+ProfileFlag+" in our binary)")
	fs.StringVar(&o.results, "results", "RESULTS.md", "Markdown results `file`, relative to bench/ unless absolute; empty to skip (an -only run writes it only when given)")
	fs.BoolVar(&o.sink, "sink", true, "measure the byte-sink ceiling for pub-only")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "limit for one run of one workload against one broker")
	fs.BoolVar(&o.list, "list", false, "list workloads and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cd bench && go run . [flags]\n\n"+
			"Runs each workload against our broker and nats-server alternately and prints a table;\n"+
			"a full run also writes bench/RESULTS.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) { o.resultsSet = o.resultsSet || f.Name == "results" })
	if o.smoke {
		o.pairs, o.warmup, o.results = 1, false, ""
		o.scale *= 0.1
		if o.timeout > time.Minute {
			o.timeout = time.Minute
		}
	}
	if o.pairs < 1 {
		return o, errors.New("-pairs must be at least 1")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	if o.list {
		for _, w := range workloads() {
			fmt.Printf("%s (%s)\n", w.Name, w.Unit)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run builds, measures and reports. Tables go to out, progress to log.
func run(ctx context.Context, o options, out, log io.Writer) error {
	rows, plan, m, err := measure(ctx, o, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	if o.scale != 1 {
		fmt.Fprintf(out, "counts scaled ×%g; row labels give full-scale counts\n", o.scale)
	}
	writeText(out, rows)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if o.results == "" {
		return nil
	}
	if o.scale != 1 || o.only != "" && !o.resultsSet {
		fmt.Fprintln(log, "not writing", o.results, "for a partial run (-only or -scale)")
		return nil
	}
	benchDir, _, err := findRoots()
	if err != nil {
		return err
	}
	var md strings.Builder
	writeMarkdown(&md, rows, m, plan, "go run . "+strings.Join(os.Args[1:], " "))
	path := o.results
	if !filepath.IsAbs(path) {
		path = filepath.Join(benchDir, path)
	}
	if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(log, "wrote", path)
	return nil
}

// measure prepares the binaries and runs every selected workload.
func measure(ctx context.Context, o options, log io.Writer) ([]Row, *Plan, Machine, error) {
	benchDir, root, err := findRoots()
	if err != nil {
		return nil, nil, Machine{}, err
	}
	var only *regexp.Regexp
	if o.only != "" {
		if only, err = regexp.Compile(o.only); err != nil {
			return nil, nil, Machine{}, fmt.Errorf("-only: %w", err)
		}
	}
	if limit, err := raiseNoFileLimit(); err != nil || limit < 12_000 {
		fmt.Fprintf(log, "warning: open-files limit %d (%v); the idle-connection workload may fail\n", limit, err)
	}
	tmp, err := os.MkdirTemp("", "murmur-bench-")
	if err != nil {
		return nil, nil, Machine{}, err
	}
	defer os.RemoveAll(tmp)

	oursBin, natsBin := o.oursBin, o.natsBin
	if oursBin == "" {
		fmt.Fprintln(log, "building ours: go build ./cmd/broker")
		if oursBin, err = buildOurs(ctx, root, tmp); err != nil {
			return nil, nil, Machine{}, fmt.Errorf("%w\n(until cmd/broker exists, point -ours-bin at any NATS broker binary)", err)
		}
	}
	if natsBin == "" {
		fmt.Fprintln(log, "building nats-server:", natsServerPkg)
		if natsBin, err = buildNATS(ctx, benchDir, tmp); err != nil {
			return nil, nil, Machine{}, err
		}
	}
	plan := &Plan{
		Ours:       &Launcher{Bin: oursBin, LogDir: tmp},
		NATS:       &Launcher{Bin: natsBin, LogDir: tmp},
		Pairs:      o.pairs,
		Warmup:     o.warmup,
		Scale:      o.scale,
		Sink:       o.sink,
		Only:       only,
		RunTimeout: o.timeout,
		Log:        log,
	}
	if o.cpuprofile != "" {
		if supportsProfile(oursBin) {
			mustMkdir(o.cpuprofile)
			plan.ProfileDir = o.cpuprofile
		} else {
			fmt.Fprintf(log, "warning: %s does not list %s in -h; not profiling\n", oursBin, ProfileFlag)
		}
	}
	m := describeMachine(natsServerVersion(ctx, benchDir), gitRevision(root))
	m.Ours = "built from cmd/broker"
	if o.oursBin != "" {
		m.Ours = "-ours-bin " + o.oursBin
	}
	if o.natsBin != "" {
		m.NATS = "-nats-bin " + o.natsBin
	}
	fmt.Fprintf(log, "%s, %d cores, %s; %d pair(s), scale %g\n", m.CPU, m.Cores, m.Go, o.pairs, o.scale)
	if m.busy() {
		fmt.Fprintf(log, "warning: load average %s on %d cores before starting: other work will make the numbers noisy\n", m.Load, m.Cores)
	}
	return plan.Run(ctx), plan, m, nil
}
