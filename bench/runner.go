package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Side names, as printed in progress lines and used for Env.Side.
const (
	sideOurs = "ours"
	sideNATS = "nats-server"
	sideSink = "sink"
)

// Plan is what one invocation runs, after binaries are built.
type Plan struct {
	Ours, NATS *Launcher
	// Pairs of measured runs (ours then nats-server) per workload.
	Pairs int
	// Warmup runs each side once per workload before measuring.
	Warmup bool
	// Scale multiplies every workload's counts.
	Scale float64
	// Sink adds the byte-sink column to workloads that have one.
	Sink bool
	// Only selects workloads whose name matches, if not nil.
	Only *regexp.Regexp
	// ProfileDir, if not empty, receives our broker's CPU profiles.
	ProfileDir string
	// RunTimeout bounds one run of one workload against one side.
	RunTimeout time.Duration
	// Log receives progress lines.
	Log io.Writer
}

// Row is the outcome of one workload over all runs.
type Row struct {
	Workload Workload
	// Ours, NATS and Sink hold one entry per measured run.
	Ours, NATS, Sink []Outcome
}

// Outcome is one run: a result or an error.
type Outcome struct {
	Result
	Err error
}

// Run measures every selected workload, alternating the sides.
func (p *Plan) Run(ctx context.Context) []Row {
	var rows []Row
	all := workloads()
	for wi, w := range all {
		if p.Only != nil && !p.Only.MatchString(w.Name) {
			continue
		}
		row := Row{Workload: w}
		tag := fmt.Sprintf("[%d/%d] %s", wi+1, len(all), w.Name)
		if p.Warmup {
			p.once(ctx, w, tag+" warm-up", sideOurs, p.Ours, "warmup")
			p.once(ctx, w, tag+" warm-up", sideNATS, p.NATS, "")
		}
		for i := range p.Pairs {
			pt := fmt.Sprintf("%s pair %d/%d", tag, i+1, p.Pairs)
			row.Ours = append(row.Ours, p.once(ctx, w, pt, sideOurs, p.Ours, fmt.Sprintf("pair%d", i+1)))
			row.NATS = append(row.NATS, p.once(ctx, w, pt, sideNATS, p.NATS, ""))
			if w.Sink && p.Sink {
				row.Sink = append(row.Sink, p.once(ctx, w, pt, sideSink, &Launcher{Sink: true}, ""))
			}
			if ctx.Err() != nil {
				return append(rows, row)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// once runs w against one side with a fresh broker. profileTag, for our
// side only, names the CPU profile file when profiling is on.
func (p *Plan) once(ctx context.Context, w Workload, tag, side string, l *Launcher, profileTag string) Outcome {
	if ctx.Err() != nil {
		return Outcome{Err: ctx.Err()}
	}
	l.ProfilePath = nil
	if p.ProfileDir != "" && side == sideOurs {
		k := 0
		l.ProfilePath = func() string {
			k++
			return filepath.Join(p.ProfileDir, fmt.Sprintf("%s.%s.%d.pprof", slug(w.Name), profileTag, k))
		}
	}
	rctx, cancel := context.WithTimeout(ctx, p.RunTimeout)
	defer cancel()
	env := &Env{
		Side:  side,
		Scale: p.Scale,
		Progress: func(format string, args ...any) {
			fmt.Fprintf(p.Log, "    %s %s: %s\n", tag, side, fmt.Sprintf(format, args...))
		},
		launcher: l,
	}
	t0 := time.Now()
	r, err := w.Run(rctx, env)
	if serr := env.stopAll(); serr != nil && err == nil {
		err = serr
	}
	o := Outcome{Result: r, Err: err}
	fmt.Fprintf(p.Log, "  %s %-11s %s (%.1fs)\n", tag, side, o.String(w), time.Since(t0).Seconds())
	return o
}

// String formats an outcome for a progress line.
func (o Outcome) String(w Workload) string {
	if errors.Is(o.Err, ErrNotApplicable) {
		return "n/a"
	}
	if o.Err != nil {
		return "error: " + o.Err.Error()
	}
	s := formatValue(o.Value, w.Unit) + " " + w.Unit
	if w.Latency {
		s += fmt.Sprintf(", p50 %s p99 %s", formatDur(o.P50), formatDur(o.P99))
	}
	if o.Note != "" {
		s += " (" + o.Note + ")"
	}
	if o.Info != "" {
		s += " [" + o.Info + "]"
	}
	return s
}

// Summary is a side's medians over successful runs.
type Summary struct {
	Value    float64
	Min, Max float64 // lowest and highest successful run
	P50, P99 time.Duration
	OK       int  // successful runs
	Runs     int  // runs that applied (not ErrNotApplicable)
	Flagged  bool // some run carries a Note (lost or misdelivered messages)
}

// summarize takes medians over the successful runs of one side.
func summarize(runs []Outcome) Summary {
	var s Summary
	var vals []float64
	var p50, p99 []time.Duration
	for _, o := range runs {
		if errors.Is(o.Err, ErrNotApplicable) {
			continue
		}
		s.Runs++
		if o.Err != nil {
			continue
		}
		vals = append(vals, o.Value)
		p50, p99 = append(p50, o.P50), append(p99, o.P99)
		s.Flagged = s.Flagged || o.Note != ""
	}
	s.OK = len(vals)
	s.Value = median(vals)
	if len(vals) > 0 {
		s.Min, s.Max = slices.Min(vals), slices.Max(vals)
	}
	s.P50, s.P99 = time.Duration(median(durs(p50))), time.Duration(median(durs(p99)))
	return s
}

// Ratios returns ours/nats-server for each pair where both sides succeeded.
func (r Row) Ratios() []float64 {
	var ratios []float64
	for i := range min(len(r.Ours), len(r.NATS)) {
		a, b := r.Ours[i], r.NATS[i]
		if a.Err == nil && b.Err == nil && b.Value > 0 {
			ratios = append(ratios, a.Value/b.Value)
		}
	}
	return ratios
}

// Errors lists the distinct errors and notes of the row's runs, by side,
// with each successful run's Info.
func (r Row) Errors() []string {
	var out []string
	for _, s := range []struct {
		name string
		runs []Outcome
	}{{sideOurs, r.Ours}, {sideNATS, r.NATS}, {sideSink, r.Sink}} {
		for i, o := range s.runs {
			var msg string
			switch {
			case o.Err != nil && !errors.Is(o.Err, ErrNotApplicable):
				msg = fmt.Sprintf("%s, %s: %s", r.Workload.Name, s.name, firstLine(o.Err.Error()))
			case o.Err == nil && o.Note != "":
				msg = fmt.Sprintf("%s, %s (!): %s", r.Workload.Name, s.name, o.Note)
			}
			if msg != "" && !slices.Contains(out, msg) {
				out = append(out, msg)
			}
			if o.Err == nil && o.Info != "" {
				run := s.name
				if len(s.runs) > 1 {
					run += fmt.Sprintf(" pair %d", i+1)
				}
				out = append(out, fmt.Sprintf("%s, %s: %s", r.Workload.Name, run, o.Info))
			}
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func durs(d []time.Duration) []float64 {
	f := make([]float64, len(d))
	for i, x := range d {
		f[i] = float64(x)
	}
	return f
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// slug turns a workload name into a file name part.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// mustMkdir creates dir or exits; used for the profile directory.
func mustMkdir(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
