package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// JetStream rows: both brokers run with -js and a fresh -sd directory per
// run, and the nats CLI (`nats bench js ...`, the same binary for both
// sides) is the load generator. Its own figure (msgs/sec) is the value; the
// harness then checks through the JetStream API that the stream holds every
// message (publish rows) or that the consumer acked every one (fetch and
// consume rows). The restart rows share one stream of 1,000,000 messages
// per side, filled once per `go run` and copied to a fresh directory for
// each run.

// jsStream and jsSubject are the stream and subject of every JetStream row.
const (
	jsStream  = "benchstream"
	jsSubject = "bench.js"
)

// natsCLI finds the nats CLI: $NATS_CLI, then PATH, then ~/go/bin/nats.
func natsCLI() (string, error) {
	if p := os.Getenv("NATS_CLI"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the JetStream rows need the nats CLI (v0.5.0): set NATS_CLI or put nats on PATH")
}

// statsLine is the figure `nats bench js` prints at the end of a run.
var statsLine = regexp.MustCompile(`stats: ([\d,]+) msgs/sec`)

// benchJS runs `nats bench js <args>` against url and returns its rate.
func benchJS(ctx context.Context, url string, args ...string) (float64, error) {
	cli, err := natsCLI()
	if err != nil {
		return 0, err
	}
	full := append([]string{"--no-context", "-s", url, "bench", "js"}, args...)
	full = append(full, "--no-progress")
	cmd := exec.CommandContext(ctx, cli, full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("nats %s: %w\n%s", strings.Join(full, " "), err, tail(out.String(), 5))
	}
	m := statsLine.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("nats %s printed no rate:\n%s", strings.Join(full, " "), tail(out.String(), 5))
	}
	return strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// startJS starts a broker of the side under test with JetStream on a fresh
// store directory under the run's log directory; the directory is removed
// by the returned cleanup.
func startJS(ctx context.Context, env *Env, dir string) (*Broker, error) {
	return env.Start(ctx, "-js", "-sd", dir)
}

// startFreshJS starts the side under test with JetStream on a fresh store
// directory, which cleanup removes.
func startFreshJS(ctx context.Context, env *Env) (*Broker, func(), error) {
	dir, cleanup, err := freshStoreDir(env)
	if err != nil {
		return nil, nil, err
	}
	b, err := startJS(ctx, env, dir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, cleanup, nil
}

func freshStoreDir(env *Env) (string, func(), error) {
	dir, err := os.MkdirTemp(env.launcher.LogDir, "js-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// jsAPI sends one JetStream API request and decodes the reply into v.
func jsAPI(nc *nats.Conn, subject string, req, v any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return err
		}
	}
	msg, err := nc.Request(subject, body, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	var e struct {
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if json.Unmarshal(msg.Data, &e) == nil && e.Error != nil {
		return fmt.Errorf("%s: %d %s", subject, e.Error.Code, e.Error.Description)
	}
	return json.Unmarshal(msg.Data, v)
}

type jsStreamState struct {
	State struct {
		Msgs     uint64 `json:"messages"`
		LastSeq  uint64 `json:"last_seq"`
		FirstSeq uint64 `json:"first_seq"`
	} `json:"state"`
}

type jsConsumerState struct {
	AckFloor struct {
		Stream uint64 `json:"stream_seq"`
	} `json:"ack_floor"`
	NumAckPending int    `json:"num_ack_pending"`
	NumPending    uint64 `json:"num_pending"`
}

// checkJS polls the stream (and the consumer, when named) until it shows
// want messages (and want acked), for up to 5 s, and describes a shortfall.
func checkJS(url, consumer string, want uint64) (string, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var si jsStreamState
		if err := jsAPI(nc, "$JS.API.STREAM.INFO."+jsStream, nil, &si); err != nil {
			return "", err
		}
		note := ""
		if si.State.Msgs != want || si.State.LastSeq != want {
			note = fmt.Sprintf("stream holds %d messages (last seq %d), want %d", si.State.Msgs, si.State.LastSeq, want)
		}
		if consumer != "" && note == "" {
			var ci jsConsumerState
			if err := jsAPI(nc, "$JS.API.CONSUMER.INFO."+jsStream+"."+consumer, nil, &ci); err != nil {
				return "", err
			}
			if ci.AckFloor.Stream != want || ci.NumAckPending != 0 {
				note = fmt.Sprintf("consumer ack floor %d with %d awaiting an ack, want floor %d", ci.AckFloor.Stream, ci.NumAckPending, want)
			}
		}
		if note == "" || time.Now().After(deadline) {
			return note, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsPub is a `nats bench js pub` row: the CLI creates the stream with the
// given storage on a fresh store and publishes count 128 B messages.
type jsPub struct {
	storage string
	mode    string // "async" or "sync"
	batch   int    // async only
	count   int
}

func (w jsPub) run(ctx context.Context, env *Env) (Result, error) {
	b, cleanup, err := startFreshJS(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	n := env.scaled(w.count, 1000)
	args := []string{"pub", w.mode, jsSubject, "--create", "--storage", w.storage, "--msgs", strconv.Itoa(n), "--size", "128B"}
	if w.mode == "async" {
		args = append(args, "--batch", strconv.Itoa(w.batch))
	}
	rate, err := benchJS(ctx, b.URL, args...)
	if err != nil {
		return Result{}, brokerCause(b, err)
	}
	note, err := checkJS(b.URL, "", uint64(n))
	return Result{Value: rate, Note: note}, brokerCause(b, err)
}

// jsConsume is a `nats bench js fetch` or `consume` row: the stream is
// filled first (untimed, `nats bench js pub async`), then the CLI reads it
// through its durable consumer with explicit acks.
type jsConsume struct {
	storage string
	mode    string // "fetch" or "consume"
	count   int
}

func (w jsConsume) run(ctx context.Context, env *Env) (Result, error) {
	b, cleanup, err := startFreshJS(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	n := env.scaled(w.count, 1000)
	if _, err := benchJS(ctx, b.URL, "pub", "async", jsSubject, "--create", "--storage", w.storage,
		"--msgs", strconv.Itoa(n), "--size", "128B", "--batch", "1000"); err != nil {
		return Result{}, brokerCause(b, fmt.Errorf("filling the stream: %w", err))
	}
	rate, err := benchJS(ctx, b.URL, w.mode, "--msgs", strconv.Itoa(n), "--size", "128B", "--acks", "explicit")
	if err != nil {
		return Result{}, brokerCause(b, err)
	}
	note, err := checkJS(b.URL, "nats-bench", uint64(n))
	return Result{Value: rate, Note: note}, brokerCause(b, err)
}

func brokerCause(b *Broker, err error) error {
	if err == nil {
		return nil
	}
	if exited, why := b.Exited(); exited {
		return fmt.Errorf("%w (%s)", err, why)
	}
	return err
}

// jsFilled is a file-stored stream of count 128 B messages per side,
// written once per `go run` by a broker of that side and stopped cleanly;
// runs copy it. Runs are sequential; the mutex is for safety.
type jsFilled struct {
	mu    sync.Mutex
	count int
	dirs  map[string]string // side → filled store directory
}

// dir returns the side's filled store, filling it on first use.
func (f *jsFilled) dir(ctx context.Context, env *Env) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := fmt.Sprintf("%s@%g", env.Side, env.Scale)
	if d := f.dirs[key]; d != "" {
		return d, nil
	}
	dir, err := os.MkdirTemp(env.launcher.LogDir, "js-filled-")
	if err != nil {
		return "", err
	}
	b, err := startJS(ctx, env, dir)
	if err != nil {
		return "", err
	}
	n := env.scaled(f.count, 1000)
	t0 := time.Now()
	_, err = benchJS(ctx, b.URL, "pub", "async", jsSubject, "--create", "--storage", "file",
		"--msgs", strconv.Itoa(n), "--size", "128B", "--batch", "1000")
	if err == nil {
		var note string
		if note, err = checkJS(b.URL, "", uint64(n)); err == nil && note != "" {
			err = errors.New(note)
		}
	}
	if err != nil {
		b.Stop()
		return "", brokerCause(b, fmt.Errorf("filling %d messages: %w", n, err))
	}
	if err := b.Stop(); err != nil {
		return "", err
	}
	env.Progress("filled %d messages in %.1fs", n, time.Since(t0).Seconds())
	if f.dirs == nil {
		f.dirs = map[string]string{}
	}
	f.dirs[key] = dir
	return dir, nil
}

// copy gives a run its own copy of the side's filled store.
func (f *jsFilled) copy(ctx context.Context, env *Env) (string, func(), error) {
	src, err := f.dir(ctx, env)
	if err != nil {
		return "", nil, err
	}
	dst, cleanup, err := freshStoreDir(env)
	if err != nil {
		return "", nil, err
	}
	if err := copyTree(src, dst); err != nil {
		cleanup()
		return "", nil, err
	}
	return dst, cleanup, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// serveAgain waits until the broker at url answers STREAM.INFO with want
// messages, polling every millisecond.
func serveAgain(ctx context.Context, b *Broker, want uint64) error {
	var nc *nats.Conn
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if exited, why := b.Exited(); exited {
			return errors.New(why)
		}
		if nc == nil {
			c, err := nats.Connect(b.URL, nats.Timeout(time.Second))
			if err != nil {
				last = err
				time.Sleep(time.Millisecond)
				continue
			}
			nc = c
		}
		msg, err := nc.Request("$JS.API.STREAM.INFO."+jsStream, nil, time.Second)
		if err == nil {
			var si jsStreamState
			if err = json.Unmarshal(msg.Data, &si); err == nil && si.State.Msgs == want {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("stream info: %d messages, want %d: %s", si.State.Msgs, want, firstLine(string(msg.Data)))
			}
		}
		last = err
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("stream not served within 2m: %v", last)
}

// jsRestart times a restart on a copy of the filled store: seconds from
// launching the broker process until STREAM.INFO reports every message.
type jsRestart struct{ filled *jsFilled }

func (w jsRestart) run(ctx context.Context, env *Env) (Result, error) {
	dir, cleanup, err := w.filled.copy(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	t0 := time.Now()
	b, err := startJS(ctx, env, dir)
	if err != nil {
		return Result{}, err
	}
	listening := time.Since(t0)
	if err := serveAgain(ctx, b, uint64(env.scaled(w.filled.count, 1000))); err != nil {
		return Result{}, err
	}
	d := time.Since(t0)
	return Result{Value: float64(d) / float64(time.Millisecond), Info: fmt.Sprintf("accepting clients after %s, stream answering after %s", formatDur(listening), formatDur(d))}, nil
}

// jsDisk measures the bytes per stored message of the filled store after a
// restart on a copy of it and a clean stop (so whatever either broker
// writes at recovery or shutdown is counted): the files' sizes summed.
type jsDisk struct{ filled *jsFilled }

func (w jsDisk) run(ctx context.Context, env *Env) (Result, error) {
	dir, cleanup, err := w.filled.copy(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	b, err := startJS(ctx, env, dir)
	if err != nil {
		return Result{}, err
	}
	n := env.scaled(w.filled.count, 1000)
	if err := serveAgain(ctx, b, uint64(n)); err != nil {
		return Result{}, err
	}
	if err := b.Stop(); err != nil {
		return Result{}, err
	}
	var size, files int64
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		files++
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Value: float64(size) / float64(n), Info: fmt.Sprintf("%d bytes in %d files for %d messages", size, files, n)}, nil
}

// jsWorkloads are the JetStream rows, in report order.
func jsWorkloads() []Workload {
	const msgs = "msgs/s"
	filled := &jsFilled{count: 1_000_000}
	var ws []Workload
	for _, st := range []string{"file", "memory"} {
		ws = append(ws,
			Workload{Name: "JetStream " + st + ": nats bench js pub async, batch 100, 128 B (200,000)", Unit: msgs,
				Run: jsPub{storage: st, mode: "async", batch: 100, count: 200_000}.run},
			Workload{Name: "JetStream " + st + ": nats bench js pub async, batch 1000, 128 B (200,000)", Unit: msgs,
				Run: jsPub{storage: st, mode: "async", batch: 1000, count: 200_000}.run},
			Workload{Name: "JetStream " + st + ": nats bench js pub sync, 128 B (20,000)", Unit: msgs,
				Run: jsPub{storage: st, mode: "sync", count: 20_000}.run},
			Workload{Name: "JetStream " + st + ": nats bench js fetch, batch 500, explicit acks, 128 B (200,000)", Unit: msgs,
				Run: jsConsume{storage: st, mode: "fetch", count: 200_000}.run},
			Workload{Name: "JetStream " + st + ": nats bench js consume, batch 500, explicit acks, 128 B (200,000)", Unit: msgs,
				Run: jsConsume{storage: st, mode: "consume", count: 200_000}.run},
		)
	}
	return append(ws,
		Workload{Name: "JetStream file: restart with 1,000,000 stored 128 B messages, process start → STREAM.INFO answers", Unit: "ms", LowerIsBetter: true,
			Run: jsRestart{filled: filled}.run},
		Workload{Name: "JetStream file: disk bytes per stored 128 B message (1,000,000 stored, after a restart)", Unit: "B/msg", LowerIsBetter: true,
			Run: jsDisk{filled: filled}.run},
	)
}
