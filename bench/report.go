package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine describes where the numbers were taken.
type Machine struct {
	CPU      string
	Cores    int
	Memory   string
	Kernel   string
	Go       string
	Date     string
	NATS     string // nats-server version
	Revision string // murmur commit
	Ours     string // how our binary was obtained
	Load     string // 1-minute load average when the run started
}

// describeMachine reads the CPU model from /proc/cpuinfo and the rest from
// the runtime and /proc.
func describeMachine(natsVersion, revision string) Machine {
	m := Machine{
		CPU:      "unknown",
		Cores:    runtime.NumCPU(),
		Memory:   "unknown",
		Go:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Date:     time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		NATS:     natsVersion,
		Revision: revision,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(rest, &kb)
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load, _, _ = strings.Cut(string(b), " ")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

var header = []string{"workload", "unit", "ours", "nats-server", "ratio [pair range]", "ours p50 / p99", "nats p50 / p99", "sink"}

// cells formats one row for the text and Markdown tables.
func cells(r Row) []string {
	w := r.Workload
	ours, nats := summarize(r.Ours), summarize(r.NATS)
	unit := w.Unit + " ↑"
	if w.LowerIsBetter {
		unit = w.Unit + " ↓"
	}
	val := func(s Summary) string {
		if s.Runs == 0 {
			return "n/a"
		}
		if s.OK == 0 {
			return "error"
		}
		v := formatValue(s.Value, w.Unit)
		if w.Spread && s.OK > 1 {
			v += fmt.Sprintf(" [%s–%s]", formatValue(s.Min, w.Unit), formatValue(s.Max, w.Unit))
		}
		if s.Flagged {
			v += " (!)"
		}
		if s.OK < s.Runs {
			v += fmt.Sprintf(" (%d/%d ok)", s.OK, s.Runs)
		}
		return v
	}
	lat := func(s Summary) string {
		if !w.Latency || s.OK == 0 {
			return ""
		}
		return formatDur(s.P50) + " / " + formatDur(s.P99)
	}
	ratio := ""
	if rs := r.Ratios(); len(rs) > 0 {
		ratio = fmt.Sprintf("%.2f", median(rs))
		if len(rs) > 1 {
			ratio += fmt.Sprintf(" [%.2f–%.2f]", slices.Min(rs), slices.Max(rs))
		}
	}
	sink := ""
	if len(r.Sink) > 0 {
		sink = val(summarize(r.Sink))
	}
	return []string{w.Name, unit, val(ours), val(nats), ratio, lat(ours), lat(nats), sink}
}

// writeText prints the table aligned for a terminal.
func writeText(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(cells(r), "\t"))
	}
	tw.Flush()
	writeErrors(w, rows, "")
}

// writeErrors lists what failed or was flagged, so an "error" or "(!)" cell
// has its cause.
func writeErrors(w io.Writer, rows []Row, bullet string) {
	var errs []string
	for _, r := range rows {
		errs = append(errs, r.Errors()...)
	}
	if len(errs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nErrors and notes:")
	for _, e := range errs {
		fmt.Fprintln(w, bullet+e)
	}
}

// writeMarkdown writes RESULTS.md: machine, method and the table.
func writeMarkdown(w io.Writer, rows []Row, m Machine, p *Plan, cmdline string) {
	fmt.Fprintf(w, "# Murmur vs nats-server\n\n")
	fmt.Fprintf(w, "Produced by `cd bench && %s`; do not edit by hand.\n\n", cmdline)
	fmt.Fprintf(w, "| machine | |\n|---|---|\n")
	fmt.Fprintf(w, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| OS | %s |\n", m.CPU, m.Cores, m.Memory, m.Kernel)
	fmt.Fprintf(w, "| Go | %s |\n| nats-server | %s |\n| murmur commit | %s |\n| ours | %s |\n| date | %s |\n"+
		"| load average at start | %s |\n\n", m.Go, m.NATS, orDash(m.Revision), orDash(m.Ours), m.Date, orDash(m.Load))
	warm := "after one warm-up run of each"
	if !p.Warmup {
		warm = "without warm-up"
	}
	fmt.Fprintf(w, "Each workload ran against a fresh broker per run on a free 127.0.0.1 port, ours and nats-server "+
		"alternately, %d pairs %s. Values are medians over the pairs; **ratio** is the median of the "+
		"per-pair ratios ours / nats-server (above 1 is better for ↑ units, below 1 is better for ↓ units), "+
		"with the lowest and highest pair in brackets: a wide range means a noisy row. "+
		"Rates count messages received by subscribers (per subscriber where the name says so), or published "+
		"and flushed for pub-only. Latencies are round trips of one synchronous requester. RSS is VmRSS of the "+
		"broker process. The sink column is an in-process TCP server that parses nothing: the ceiling for "+
		"pub-only on this machine. Load generators share the machine with the broker, so read ratios, not "+
		"absolute numbers.\n\n", p.Pairs, warm)
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(header)))
	for _, r := range rows {
		c := cells(r)
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", "\\|")
		}
		fmt.Fprintln(w, "| "+strings.Join(c, " | ")+" |")
	}
	writeErrors(w, rows, "- ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatValue prints a value with three significant digits and a k/M suffix
// for rates.
func formatValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case unit == "MiB" || unit == "B/msg":
		return fmt.Sprintf("%.1f", v)
	case unit == "µs":
		return fmt.Sprintf("%.0f", v)
	case unit == "s" || unit == "×":
		return fmt.Sprintf("%.2f", v)
	case unit == "share": // a fraction, shown as a percentage
		switch p := 100 * v; {
		case p >= 10:
			return fmt.Sprintf("%.0f%%", p)
		case p >= 1:
			return fmt.Sprintf("%.1f%%", p)
		default:
			return fmt.Sprintf("%.2f%%", p)
		}
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// formatDur prints a latency in µs with one decimal, or ms past 10 ms.
func formatDur(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

// busy reports whether the 1-minute load average exceeds half the cores,
// which makes every number noisy on a small machine.
func (m Machine) busy() bool {
	var load float64
	_, err := fmt.Sscan(m.Load, &load)
	return err == nil && load > float64(m.Cores)/2
}
