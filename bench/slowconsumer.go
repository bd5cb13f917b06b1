package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// slowConsumer measures how well a broker shields healthy subscribers from
// one on the same subject that stops reading. One publisher sends as fast as
// a window of in-flight messages allows to healthy nats.go subscribers and to
// one more, a raw TCP subscriber that reads everything during a baseline
// period and then stops reading. The stall lasts from then until the broker
// cuts it off, or the period ends; then the next episode's subscriber joins.
// Value is the healthy subscribers' receive rate summed over all the stalls
// divided by their rate summed over all the baselines, when the broker
// delivered to all of them: 1 means the stall cost only the stalled one,
// near 0 means it held up everyone. A stall a broker cuts within
// milliseconds is thus measured over many episodes, and the baselines and
// stalls alternate, so a change in the machine's load falls on both.
type slowConsumer struct {
	size       int           // payload bytes
	healthy    int           // subscribers that keep up
	period     time.Duration // an episode's baseline, and its longest stall, at full scale
	maxPending int           // per-connection pending byte limit, on both brokers
	// window is how many messages the publisher keeps ahead of the slowest
	// healthy subscriber, so window×size must stay well below maxPending:
	// a healthy subscriber is then never a slow consumer itself.
	window int
	// episodes is how many times a subscriber joins and stalls in one run:
	// the rates are summed over all of them, so a stall of a few
	// milliseconds is measured over many.
	episodes int
}

const (
	// stallRcvBuf is the stalled socket's SO_RCVBUF (the kernel doubles it),
	// set before the SYN: small, so the stall shows soon, but enough for
	// the baseline's rate on loopback.
	stallRcvBuf = 256 << 10
	// varzEvery is how often /varz is polled for slow_consumers, in both
	// periods alike, so the polling costs the baseline what it costs the stall.
	varzEvery = 10 * time.Millisecond
	// drainTimeout bounds reading the stalled socket at the end to learn
	// whether the broker closed it.
	drainTimeout = 2 * time.Second
	// firstDelivery bounds the wait for the healthy subscribers to fill the
	// window once, before anything is measured.
	firstDelivery = 10 * time.Second
)

func (w slowConsumer) run(ctx context.Context, env *Env) (Result, error) {
	if env.Side != sideOurs && env.Side != sideNATS {
		return Result{}, ErrNotApplicable
	}
	monPort, err := freePort()
	if err != nil {
		return Result{}, err
	}
	var args []string
	if env.Side == sideOurs {
		args = []string{"--max_pending", strconv.Itoa(w.maxPending),
			"-m", strconv.Itoa(monPort), "--http_addr", "127.0.0.1"}
	} else {
		// nats-server takes max_pending only from a configuration file. Its
		// http host comes from there too; the port needs the flag, as the
		// launcher's explicit -m 0 would override the file's.
		conf, err := os.CreateTemp(env.launcher.LogDir, "slow-consumer-*.conf")
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(conf.Name())
		_, err = fmt.Fprintf(conf, "max_pending: %d\nhttp: \"127.0.0.1:%d\"\n", w.maxPending, monPort)
		if cerr := conf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Result{}, fmt.Errorf("nats-server config: %w", err)
		}
		args = []string{"-c", conf.Name(), "-m", strconv.Itoa(monPort)}
	}
	b, err := env.Start(ctx, args...)
	if err != nil {
		return Result{}, err
	}
	mon := newVarzClient(monPort)
	defer mon.close()
	r, err := w.measure(ctx, env, b, mon)
	return r, withExits(err, []*Broker{b})
}

// measure runs the episodes against b: the healthy subscribers and the
// publisher stay up throughout, and each episode adds a subscriber that
// reads through a baseline and then stalls.
func (w slowConsumer) measure(ctx context.Context, env *Env, b *Broker, mon *varzClient) (Result, error) {
	const subject = "bench.slow"
	period := max(time.Duration(float64(w.period)*env.Scale), 300*time.Millisecond)
	asyncErr := &firstError{}

	// The monitoring listener may come up after the client port answers.
	v0, err := mon.readWithin(ctx, 10*time.Second)
	if err != nil {
		return Result{}, err
	}

	h := &healthySubs{counts: make([]counter, w.healthy), progress: make(chan struct{}, 1)}
	subConns := make([]*nats.Conn, w.healthy)
	for i := range subConns {
		nc, err := connect(b.URL, asyncErr)
		if err != nil {
			return Result{}, err
		}
		defer nc.Close()
		subConns[i] = nc
		if err := h.subscribe(nc, subject, i, max(w.window/4, 1)); err != nil {
			return Result{}, err
		}
	}

	pub, err := connect(b.URL, asyncErr)
	if err != nil {
		return Result{}, err
	}
	var stopped atomic.Bool
	pubDone := make(chan error, 1)
	var stalled net.Conn // the current episode's, closed before the publisher
	defer func() {
		stopped.Store(true)
		if stalled != nil {
			stalled.Close() // unblocks a broker stuck on it, so a blocked Publish returns
		}
		pub.Close()
		<-pubDone
	}()
	payload := make([]byte, w.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	go func() {
		pubDone <- w.publish(pub, subject, payload, &stopped, h.slowest, h.progress)
	}()
	pubFailed := func() error {
		select {
		case err := <-pubDone:
			pubDone <- err // for the deferred wait
			if err == nil {
				err = errors.New("publisher stopped early")
			}
			return err
		default:
			return nil
		}
	}
	// Fill the window once before anything is measured.
	deadline := time.Now().Add(firstDelivery)
	for h.slowest() < int64(w.window) {
		if err := pubFailed(); err != nil {
			return Result{}, err
		}
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("healthy subscribers got %d messages in %v (async error: %v)",
				h.total(), firstDelivery, asyncErr.get())
		}
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return Result{}, err
		}
	}

	var r Result
	var baseN, stallN int64
	var baseD, stallD time.Duration
	var cuts []string
	v := v0
	for ep := range max(w.episodes, 1) {
		e := episode{w: w, subject: subject, period: period, mon: mon, h: h}
		res, err := e.run(ctx, b, v, &stalled)
		if err == nil {
			err = pubFailed()
		}
		if err != nil {
			return Result{}, fmt.Errorf("episode %d: %w", ep+1, err)
		}
		v = res.after
		if os.Getenv("BENCH_EPISODES") != "" {
			fmt.Fprintf(os.Stderr, "episode %d: base %.0f/s stall %.0f/s over %v share %.3f cut %s\n", ep+1, float64(res.baseN)/res.baseD.Seconds(), float64(res.stallN)/res.stallD.Seconds(), res.stallD, (float64(res.stallN)/res.stallD.Seconds())/(float64(res.baseN)/res.baseD.Seconds()), res.cut)
		}
		baseN, baseD = baseN+res.baseN, baseD+res.baseD
		stallN, stallD = stallN+res.stallN, stallD+res.stallD
		cuts = append(cuts, res.cut)
		if res.baseCut {
			r.Note = joinNotes(r.Note, fmt.Sprintf("episode %d: slow_consumers rose to %d in the baseline, before the stall", ep+1, res.after.SlowConsumers))
		}
	}
	before := perSubRate(baseN, baseD, w.healthy)
	if before <= 0 {
		return Result{}, fmt.Errorf("no deliveries in the baselines (async error: %v)", asyncErr.get())
	}
	during := perSubRate(stallN, stallD, w.healthy)
	r.Value = during / before
	r.Info = fmt.Sprintf("%d episodes, stalled sub %s; per sub %s msgs/s before, %s during (%v stalled in all)",
		len(cuts), strings.Join(cuts, ", "), formatValue(before, "msgs/s"), formatValue(during, "msgs/s"), stallD.Round(time.Millisecond))

	stopped.Store(true)
	select {
	case err := <-pubDone:
		pubDone <- err
	case <-time.After(5 * time.Second):
		// Publish is stuck on the broker; the deferred cleanup unblocks it.
	}
	if n := v.SlowConsumers - v0.SlowConsumers; n > int64(len(cuts)) {
		r.Note = joinNotes(r.Note, fmt.Sprintf("%d slow consumers in %d episodes, want at most the stalled ones", n, len(cuts)))
	}
	for i, nc := range subConns {
		if nc.IsClosed() {
			r.Note = joinNotes(r.Note, fmt.Sprintf("healthy subscriber %d was disconnected (%v)", i, asyncErr.get()))
		}
	}
	if err := pubFailed(); err != nil && !errors.Is(err, errStopped) {
		r.Note = joinNotes(r.Note, "publisher: "+err.Error())
	}
	return r, nil
}

// healthySubs counts what the subscribers that keep up receive.
type healthySubs struct {
	counts   []counter
	progress chan struct{} // lossy: wakes the publisher as they catch up
}

func (h *healthySubs) subscribe(nc *nats.Conn, subject string, i int, every int) error {
	c := &h.counts[i]
	sub, err := nc.Subscribe(subject, func(*nats.Msg) {
		if c.n.Add(1)%int64(every) == 0 {
			select {
			case h.progress <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", subject, err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("flush after subscribe: %w", err)
	}
	return nil
}

func (h *healthySubs) slowest() int64 {
	m := h.counts[0].n.Load()
	for i := range h.counts[1:] {
		m = min(m, h.counts[i+1].n.Load())
	}
	return m
}

func (h *healthySubs) total() int64 {
	var s int64
	for i := range h.counts {
		s += h.counts[i].n.Load()
	}
	return s
}

// episode is one baseline and one stall: a subscriber joins, reads
// everything for a period, then stops reading until the broker cuts it
// off or the period ends.
type episode struct {
	w       slowConsumer
	subject string
	period  time.Duration
	mon     *varzClient
	h       *healthySubs
}

type episodeResult struct {
	baseN, stallN int64 // healthy deliveries, summed over the subscribers
	baseD, stallD time.Duration
	baseCut       bool   // a slow consumer showed in the baseline
	cut           string // when the stalled one was cut off, for Info
	after         varz   // /varz once the episode's subscriber is gone
}

// run plays the episode; *stalled holds its subscriber's socket while it
// is open, so the caller's cleanup can close it.
func (e episode) run(ctx context.Context, b *Broker, v0 varz, stalled *net.Conn) (episodeResult, error) {
	var res episodeResult
	c, err := dialStalled(ctx, b.Addr, e.subject)
	if err != nil {
		return res, fmt.Errorf("stalled subscriber: %w", err)
	}
	*stalled = c
	defer func() {
		c.Close()
		*stalled = nil
	}()
	var stopReading atomic.Bool
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readUntil(c, &stopReading)
	}()
	stopReader := func() {
		if !stopReading.Swap(true) {
			_ = c.SetReadDeadline(time.Unix(1, 0)) // ends a blocked Read
		}
		<-readerDone
	}
	defer stopReader()
	// Let its join settle before the baseline starts.
	if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
		return res, err
	}

	t0, c0 := time.Now(), e.h.total()
	// The baseline watch learns the connection count (publisher, healthy
	// subscribers and this one) and flags a slow consumer among them.
	v1, baseCut, err := e.mon.watch(ctx, varz{SlowConsumers: v0.SlowConsumers, Connections: -1}, t0.Add(e.period))
	if err != nil {
		return res, err
	}
	t1, c1 := time.Now(), e.h.total()
	res.baseN, res.baseD, res.baseCut = c1-c0, t1.Sub(t0), !baseCut.IsZero()

	stopReader()
	tJoin, cJoin := time.Now(), e.h.total()
	// Cut off is a slow consumer counted, or a connection gone (a broker
	// might close the stalled one without calling it a slow consumer).
	_, cutAt, err := e.mon.watch(ctx, v1, tJoin.Add(e.period))
	if err != nil {
		return res, err
	}
	tEnd, cEnd := time.Now(), e.h.total()
	res.stallN, res.stallD = cEnd-cJoin, tEnd.Sub(tJoin)

	closed, drained := drainClosed(c, drainTimeout)
	c.Close()
	switch {
	case cutAt.IsZero():
		res.cut = fmt.Sprintf("not cut within %v", e.period)
	case closed:
		res.cut = fmt.Sprintf("cut at %v (%d KiB left)", cutAt.Sub(tJoin).Round(time.Millisecond), drained>>10)
	default:
		res.cut = fmt.Sprintf("counted at %v but its socket still open", cutAt.Sub(tJoin).Round(time.Millisecond))
	}
	// Wait for the broker to drop it, so the next episode's count is right.
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := e.mon.read(ctx)
		if err == nil && v.Connections < v1.Connections {
			res.after = v
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the stalled subscriber's connection still counted %v after closing it", 5*time.Second)
		}
		if err := sleepCtx(ctx, varzEvery); err != nil {
			return res, err
		}
	}
}

// errStopped is what the publisher returns when asked to stop.
var errStopped = errors.New("stopped")

// publish sends payload on subject until stopped, keeping at most w.window
// messages ahead of the slowest healthy subscriber; progress wakes it as
// they catch up.
func (w slowConsumer) publish(nc *nats.Conn, subject string, payload []byte, stopped *atomic.Bool,
	slowest func() int64, progress <-chan struct{}) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var floor int64 // the slowest count last seen; it only grows
	for sent := int64(0); ; sent++ {
		if stopped.Load() {
			return errStopped
		}
		if err := nc.Publish(subject, payload); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		for sent-floor > int64(w.window) {
			if floor = slowest(); sent-floor <= int64(w.window) {
				break
			}
			if stopped.Load() {
				return errStopped
			}
			select {
			case <-progress:
			case <-tick.C: // progress signals are lossy; look again
			}
		}
	}
}

// dialStalled subscribes to subject over a raw socket with a small receive
// buffer and returns once the broker has answered the PING after the SUB;
// from then on nobody reads it, so the broker's writes to it soon block.
func dialStalled(ctx context.Context, addr, subject string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stallRcvBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, r, err := rawConnectVia(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err = fmt.Fprintf(c, "SUB %s 1\r\nPING\r\n", subject); err == nil {
		err = readUntilPong(r, c) // skips the MSGs that may come first
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("SUB %s: %w", subject, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// readUntil reads and discards c as fast as it can until stop is set (the
// caller then sets a past read deadline to end a blocked Read), and leaves
// the connection unread from then on.
func readUntil(c net.Conn, stop *atomic.Bool) {
	buf := make([]byte, 256<<10)
	for !stop.Load() {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// drainClosed reads c until the broker's close shows (EOF or a reset) or
// timeout passes, and reports whether it showed and how many bytes were read.
func drainClosed(c net.Conn, timeout time.Duration) (bool, int64) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, n
	}
	return true, n // io.Copy's nil error is EOF; anything else is a reset
}

func perSubRate(n int64, d time.Duration, subs int) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(subs) / d.Seconds()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
