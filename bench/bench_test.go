package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness in smoke mode: builds both brokers, runs
// every workload briefly against each, and checks every run produced a
// non-zero value. It judges no numbers. Until ../cmd/broker exists it puts
// nats-server in both slots.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two brokers and runs every workload; skipped with -short")
	}
	o, err := parseFlags([]string{"-smoke"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join("..", "cmd", "broker")); err != nil {
		benchDir, _, err := findRoots()
		if err != nil {
			t.Fatal(err)
		}
		bin, err := buildNATS(ctx, benchDir, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("no ../cmd/broker yet: nats-server stands in for ours")
		o.oursBin, o.natsBin = bin, bin
	}

	rows, _, _, err := measure(ctx, o, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	writeText(&table, rows)
	t.Log("\n" + table.String())
	if len(rows) != len(workloads()) {
		t.Fatalf("got %d rows, want one per workload (%d)", len(rows), len(workloads()))
	}
	for _, r := range rows {
		for side, runs := range map[string][]Outcome{sideOurs: r.Ours, sideNATS: r.NATS, sideSink: r.Sink} {
			for _, o := range runs {
				if errors.Is(o.Err, ErrNotApplicable) {
					continue
				}
				if o.Err != nil || !(o.Value > 0 || r.Workload.Failures && o.Value == 0) {
					t.Errorf("%s, %s: value %v, error %v", r.Workload.Name, side, o.Value, o.Err)
				}
			}
		}
		if len(r.Ours) == 0 || len(r.NATS) == 0 || (r.Workload.Sink && len(r.Sink) == 0) {
			t.Errorf("%s: missing runs (ours %d, nats %d, sink %d)", r.Workload.Name, len(r.Ours), len(r.NATS), len(r.Sink))
		}
	}
}

// TestSinkAnswersSplitPings checks the sink answers every PING, also one
// split over several reads, and nothing else.
func TestSinkAnswersSplitPings(t *testing.T) {
	s, err := startSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO {") {
		t.Fatalf("greeting %q, %v", line, err)
	}
	// TCP_NODELAY (Go's default) sends each write at once; the sink may
	// still coalesce them, which the count must not depend on.
	parts := []string{"PUB a 4\r\nPI", "N", "G", "\r", "\nPUB b 2\r\nxy\r\nPING\r\nPING\r", "\n", "PUB c 0\r\n\r\n"}
	for _, p := range parts {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // encourage separate reads; not needed for correctness
	}
	for i := range 3 {
		line, err := r.ReadString('\n')
		if err != nil || line != "PONG\r\n" {
			t.Fatalf("reply %d: %q, %v", i+1, line, err)
		}
	}
	// A final PING proves no extra PONG was queued before it.
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("last reply %q, %v", line, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if b, err := r.ReadByte(); err == nil {
		t.Fatalf("unexpected extra byte %q after the last PONG", b)
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i + 1)
	}
	if p50, p99 := percentile(d, 0.5), percentile(d, 0.99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v, want 50 and 99", p50, p99)
	}
	if got := slug("1 pub → 5 subs, 128 B (per sub)"); got != "1-pub-5-subs-128-b-per-sub" {
		t.Errorf("slug = %q", got)
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
