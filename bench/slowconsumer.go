package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// slowConsumer measures how well a broker shields healthy subscribers from
// one on the same subject that stops reading. One publisher sends as fast as
// a window of in-flight messages allows to healthy nats.go subscribers and to
// one more, a raw TCP subscriber that reads everything during the baseline
// period and then stops reading. Value is the healthy subscribers' receive
// rate while it is stalled (from when it stops until the broker cuts it off,
// or the period ends) divided by their rate in the baseline, when the broker
// delivered to all of them: 1 means the stall cost only the stalled one,
// near 0 means it held up everyone.
type slowConsumer struct {
	size       int           // payload bytes
	healthy    int           // subscribers that keep up
	period     time.Duration // baseline and stall period, each, at full scale
	maxPending int           // per-connection pending byte limit, on both brokers
	// window is how many messages the publisher keeps ahead of the slowest
	// healthy subscriber, so window×size must stay well below maxPending:
	// a healthy subscriber is then never a slow consumer itself.
	window int
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

// measure runs the baseline and the stall against b.
func (w slowConsumer) measure(ctx context.Context, env *Env, b *Broker, mon *varzClient) (Result, error) {
	const subject = "bench.slow"
	period := max(time.Duration(float64(w.period)*env.Scale), 300*time.Millisecond)
	asyncErr := &firstError{}

	// The monitoring listener may come up after the client port answers.
	v0, err := mon.readWithin(ctx, 10*time.Second)
	if err != nil {
		return Result{}, err
	}

	counts := make([]counter, w.healthy)
	progress := make(chan struct{}, 1)
	subConns := make([]*nats.Conn, w.healthy)
	for i := range subConns {
		nc, err := connect(b.URL, asyncErr)
		if err != nil {
			return Result{}, err
		}
		defer nc.Close()
		subConns[i] = nc
		c := &counts[i]
		sub, err := nc.Subscribe(subject, func(*nats.Msg) {
			if c.n.Add(1)%int64(max(w.window/4, 1)) == 0 {
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			return Result{}, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return Result{}, err
		}
		if err := nc.Flush(); err != nil {
			return Result{}, fmt.Errorf("flush after subscribe: %w", err)
		}
	}
	slowest := func() int64 {
		m := counts[0].n.Load()
		for i := range counts[1:] {
			m = min(m, counts[i+1].n.Load())
		}
		return m
	}
	total := func() int64 {
		var s int64
		for i := range counts {
			s += counts[i].n.Load()
		}
		return s
	}

	pub, err := connect(b.URL, asyncErr)
	if err != nil {
		return Result{}, err
	}
	var stalled net.Conn
	var stopped atomic.Bool
	pubDone := make(chan error, 1)
	// Whatever happens, the publisher stops and the stalled socket is closed
	// (unblocking a broker stuck on it) before the publisher's connection, so
	// a Publish blocked on a stuck broker returns and the goroutine ends.
	defer func() {
		stopped.Store(true)
		if stalled != nil {
			stalled.Close()
		}
		pub.Close()
		<-pubDone
	}()

	payload := make([]byte, w.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	go func() {
		pubDone <- w.publish(pub, subject, payload, &stopped, slowest, progress)
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
	// Fill the window once, then measure the baseline.
	deadline := time.Now().Add(firstDelivery)
	for slowest() < int64(w.window) {
		if err := pubFailed(); err != nil {
			return Result{}, err
		}
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("healthy subscribers got %d messages in %v (async error: %v)",
				total(), firstDelivery, asyncErr.get())
		}
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return Result{}, err
		}
	}

	// The subscriber that will stall joins now and reads until told to stop.
	stalled, err = dialStalled(ctx, b.Addr, subject)
	if err != nil {
		return Result{}, fmt.Errorf("stalled subscriber: %w", err)
	}
	var stopReading atomic.Bool
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readUntil(stalled, &stopReading)
	}()
	stopReader := func() {
		if !stopReading.Swap(true) {
			_ = stalled.SetReadDeadline(time.Unix(1, 0)) // ends a blocked Read
		}
		<-readerDone
	}
	defer stopReader()
	// Let its join settle before the baseline starts.
	if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
		return Result{}, err
	}

	t0, c0 := time.Now(), total()
	// The baseline watch learns the connection count (publisher and healthy
	// subscribers) and flags a slow consumer among them.
	v1, baseCut, err := mon.watch(ctx, varz{SlowConsumers: v0.SlowConsumers, Connections: -1}, t0.Add(period))
	if err != nil {
		return Result{}, err
	}
	t1, c1 := time.Now(), total()
	if err := pubFailed(); err != nil {
		return Result{}, err
	}
	before := perSubRate(c1-c0, t1.Sub(t0), w.healthy)
	if before <= 0 {
		return Result{}, fmt.Errorf("no deliveries in the baseline (async error: %v)", asyncErr.get())
	}

	stopReader()
	tJoin, cJoin := time.Now(), total()
	// Cut off is a slow consumer counted, or a connection gone (a broker
	// might close the stalled one without calling it a slow consumer).
	v2, cutAt, err := mon.watch(ctx, v1, tJoin.Add(period))
	if err != nil {
		return Result{}, err
	}
	tEnd, cEnd := time.Now(), total()
	during := perSubRate(cEnd-cJoin, tEnd.Sub(tJoin), w.healthy)

	stopped.Store(true)
	select {
	case err := <-pubDone:
		pubDone <- err
	case <-time.After(5 * time.Second):
		// Publish is stuck on the broker; the deferred cleanup unblocks it.
	}
	closed, drained := drainClosed(stalled, drainTimeout)
	stalled.Close()
	v3, err := mon.read(ctx)
	if err != nil {
		v3 = v2
	}

	r := Result{Value: during / before}
	socket := "its socket still open at the end"
	if closed {
		socket = fmt.Sprintf("its socket closed (%d KiB left to drain)", drained>>10)
	}
	if !cutAt.IsZero() {
		r.Info = fmt.Sprintf("stalled sub cut off %v after it stopped reading (slow_consumers %d → %d), %s",
			cutAt.Sub(tJoin).Round(time.Millisecond), v0.SlowConsumers, v2.SlowConsumers, socket)
	} else {
		r.Info = fmt.Sprintf("stalled sub not cut off within %v, %s", period, socket)
	}
	r.Info += fmt.Sprintf("; per sub %s msgs/s before, %s during", formatValue(before, "msgs/s"), formatValue(during, "msgs/s"))
	if !baseCut.IsZero() {
		r.Note = joinNotes(r.Note, fmt.Sprintf("slow_consumers rose to %d in the baseline, before the stall", v1.SlowConsumers))
	}
	if n := v3.SlowConsumers - v0.SlowConsumers; n > 1 {
		r.Note = joinNotes(r.Note, fmt.Sprintf("%d slow consumers, want at most the stalled one", n))
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

// varz is what the workload reads from /varz; both brokers name the
// fields alike.
type varz struct {
	SlowConsumers int64 `json:"slow_consumers"`
	Connections   int   `json:"connections"`
}

// varzClient reads a broker's /varz.
type varzClient struct {
	url string
	tr  *http.Transport
	hc  *http.Client
}

func newVarzClient(port int) *varzClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	return &varzClient{
		url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/varz",
		tr:  tr,
		hc:  &http.Client{Transport: tr, Timeout: time.Second},
	}
}

// close drops the kept-alive connection and its goroutines.
func (v *varzClient) close() { v.tr.CloseIdleConnections() }

func (v *varzClient) read(ctx context.Context) (varz, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return varz{}, err
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return varz{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return varz{}, fmt.Errorf("GET %s: %s", v.url, resp.Status)
	}
	var doc struct {
		SlowConsumers *int64 `json:"slow_consumers"`
		Connections   *int   `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return varz{}, fmt.Errorf("GET %s: %w", v.url, err)
	}
	if doc.SlowConsumers == nil || doc.Connections == nil {
		return varz{}, fmt.Errorf("GET %s: no slow_consumers or connections field", v.url)
	}
	return varz{SlowConsumers: *doc.SlowConsumers, Connections: *doc.Connections}, nil
}

// readWithin retries read until it answers or timeout passes.
func (v *varzClient) readWithin(ctx context.Context, timeout time.Duration) (varz, error) {
	deadline := time.Now().Add(timeout)
	for {
		d, err := v.read(ctx)
		if err == nil || time.Now().After(deadline) {
			return d, err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return varz{}, err
		}
	}
}

// watch polls /varz every varzEvery until slow_consumers rises above base's
// or connections falls below base's (-1 watches only slow_consumers), or end
// passes. It returns the last document (base if no poll answered) and when
// the change showed, zero if it did not. A failed poll (a busy broker may
// miss the 1 s limit) is skipped; only ctx ends the watch early.
func (v *varzClient) watch(ctx context.Context, base varz, end time.Time) (varz, time.Time, error) {
	tick := time.NewTicker(varzEvery)
	defer tick.Stop()
	last := base
	for {
		if d, err := v.read(ctx); err == nil {
			last = d
			if d.SlowConsumers > base.SlowConsumers || d.Connections < base.Connections {
				return d, time.Now(), nil
			}
		} else if ctx.Err() != nil {
			return last, time.Time{}, ctx.Err()
		}
		if !time.Now().Before(end) {
			return last, time.Time{}, nil
		}
		select {
		case <-ctx.Done():
			return last, time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}
