package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/netem"
	"github.com/murmurmq/murmur/transport/quic"
)

// lossyConfig is the link of the lossy-link rows: 25 ms each way (a 50 ms
// round trip) and 1 % of the packets lost in each direction, made by
// internal/netem (a userspace netem: this kernel has no sch_netem).
var lossyConfig = netem.Config{Delay: 25 * time.Millisecond, Loss: 0.01, Seed: 16}

// lossyRounds counts goodput rounds: each round (TCP cubic, QUIC, TCP bbr)
// draws its losses from a seed of its own, so the pairs of a run are
// independent samples of the loss process rather than one sample
// repeated, and the transports of one round share it.
var lossyRounds atomic.Int64

// lossyWindow bounds the bytes the goodput publisher has in flight (sent
// and not yet received), so a leaf connection slower than the publisher
// is measured at its own pace instead of being cut as a slow consumer.
// It is far above the link's bandwidth-delay product at any rate seen.
const lossyWindow = 4 << 20

// clientPort is where both brokers of a lossy leaf take clients, on the
// loopback of their own namespace (so it never collides).
const clientPort = "127.0.0.1:4222"

// lossyLeaf is a hub of ours in namespace A and a leaf of ours in
// namespace B, joined by the lossy link: over TCP (nats-leaf://) or QUIC
// (quic://, the hub's certificate in files so a restarted hub keeps it).
type lossyLeaf struct {
	env        *Env
	link       *netem.Link
	dir        string
	hubConf    string
	hub, leaf  *Broker
	overQUIC   bool
	brokersRun []*Broker
}

// startLossyLeaf builds the link and starts both brokers, returning once
// the leaf is connected. Close it.
func startLossyLeaf(ctx context.Context, env *Env, overQUIC bool, tcpCC string, seed int64) (_ *lossyLeaf, err error) {
	if env.Side != sideOurs {
		return nil, ErrNotApplicable // ours over TCP against ours over QUIC
	}
	if err := netem.Check(); err != nil {
		return nil, fmt.Errorf("%w here: %v", ErrNotApplicable, err)
	}
	cfg := lossyConfig
	cfg.TCPCongestion, cfg.Seed = tcpCC, seed
	link, err := netem.New(cfg)
	if err != nil {
		return nil, err
	}
	ll := &lossyLeaf{env: env, link: link, overQUIC: overQUIC}
	defer func() {
		if err != nil {
			ll.Close()
		}
	}()
	if ll.dir, err = os.MkdirTemp("", "bench-lossy"); err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("listen: %q", netem.IPA+":7422")
	remote := fmt.Sprintf("url: %q", "nats-leaf://"+netem.IPA+":7422")
	if overQUIC {
		qc := quic.DefaultConfig()
		qc.CertFile, qc.KeyFile, qc.CreateCert = filepath.Join(ll.dir, "cert.pem"), filepath.Join(ll.dir, "key.pem"), true
		t, err := quic.New(qc) // writes the pair, as a hub's first start would
		if err != nil {
			return nil, err
		}
		listen = fmt.Sprintf("quic { listen: %q, cert_file: %q, key_file: %q }", netem.IPA+":7423", qc.CertFile, qc.KeyFile)
		remote = fmt.Sprintf("url: %q, quic { fingerprint: %q }", "quic://"+netem.IPA+":7423", t.Fingerprint())
	}
	ll.hubConf = filepath.Join(ll.dir, "hub.conf")
	leafConf := filepath.Join(ll.dir, "leaf.conf")
	if err := os.WriteFile(ll.hubConf, fmt.Appendf(nil, "listen: %q\nhttp_port: 0\nleafnodes { %s }\n", clientPort, listen), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(leafConf, fmt.Appendf(nil, "listen: %q\nhttp_port: 0\nleafnodes { remotes: [ { %s } ] }\n", clientPort, remote), 0o644); err != nil {
		return nil, err
	}
	if ll.hub, err = ll.start(ctx, netem.A, ll.hubConf); err != nil {
		return nil, err
	}
	if ll.leaf, err = ll.start(ctx, netem.B, leafConf); err != nil {
		return nil, err
	}
	return ll, nil
}

// start runs our broker inside side s's namespace and waits until it
// greets a client there.
func (ll *lossyLeaf) start(ctx context.Context, s netem.Side, conf string) (*Broker, error) {
	l := ll.env.launcher
	args := []string{"-c", conf}
	if l.ProfilePath != nil {
		args = append(args, ProfileFlag, l.ProfilePath())
	}
	l.started++
	logPath := filepath.Join(l.LogDir, fmt.Sprintf("%s-lossy-%s-%d.log", filepath.Base(l.Bin), s, l.started))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := ll.link.Command(s, l.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", l.Bin, ll.link.Namespace(s), err)
	}
	b := &Broker{URL: "nats://" + clientPort, Addr: clientPort, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { b.werr = cmd.Wait(); close(b.done) }()
	ll.brokersRun = append(ll.brokersRun, b)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := ll.greets(ctx, s); err == nil {
			return b, nil
		} else if exited, why := b.Exited(); exited {
			return nil, errors.New(why)
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("no INFO from the broker in %s: %v\n%s", ll.link.Namespace(s), err, b.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ll *lossyLeaf) greets(ctx context.Context, s netem.Side) error {
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := ll.link.Dial(dctx, s, "tcp", clientPort)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "INFO ") {
		err = fmt.Errorf("greeted with %q", line)
	}
	return err
}

// connect opens a client of the broker in side s's namespace.
func (ll *lossyLeaf) connect(s netem.Side, asyncErr *firstError) (*nats.Conn, error) {
	return connect("nats://"+clientPort, asyncErr, nats.SetCustomDialer(ll.link.Dialer(s, 5*time.Second)))
}

// killHub ends the hub with SIGKILL (no goodbye reaches the leaf) and
// starts it again at once, as a supervisor would.
func (ll *lossyLeaf) killHub(ctx context.Context) error {
	_ = ll.hub.cmd.Process.Signal(syscall.SIGKILL)
	<-ll.hub.done
	var err error
	ll.hub, err = ll.start(ctx, netem.A, ll.hubConf)
	return err
}

// exits adds the tail of a crashed broker's log to err.
func (ll *lossyLeaf) exits(err error) error { return withExits(err, ll.brokersRun) }

// Close stops the brokers, removes the namespaces and the files.
func (ll *lossyLeaf) Close() {
	var wg sync.WaitGroup
	for _, b := range ll.brokersRun {
		wg.Go(func() { _ = b.Stop() })
	}
	wg.Wait()
	_ = ll.link.Close()
	if ll.dir != "" {
		os.RemoveAll(ll.dir)
	}
}

// waitCrossed publishes empty probes on subject from pub every
// probeEvery until seen reports one arrived.
func waitCrossed(ctx context.Context, pub *nats.Conn, subject string, seen *atomic.Bool) error {
	deadline := time.Now().Add(probeTimeout)
	for !seen.Load() {
		if err := pub.Publish(subject, nil); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no message on %s crossed the leaf connection in %v", subject, probeTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(probeEvery):
		}
	}
	return nil
}

// lossyGoodput measures the goodput of a leaf connection through the
// lossy link: one publisher on the leaf sends size-byte messages, keeping
// at most lossyWindow bytes unreceived, to one subscriber on the hub; the
// goodput is the bytes received per second over dur (scaled) after warm.
// Each transport gets a fresh link: TCP with cubic (most distributions'
// default congestion control), TCP with bbr (when the kernel has it) and
// QUIC (quic-go's sender, NewReno: v0.65 builds no other). The value is
// QUIC ÷ TCP cubic; the notes give all three and the round's loss seed.
type lossyGoodput struct {
	size      int
	warm, dur time.Duration
}

func (w lossyGoodput) run(ctx context.Context, env *Env) (Result, error) {
	if env.Side != sideOurs {
		return Result{}, ErrNotApplicable // before drawing a seed: rounds of ours get 16, 17, ...
	}
	seed := lossyConfig.Seed + lossyRounds.Add(1) - 1
	cubic, err := w.once(ctx, env, false, "cubic", seed)
	if err != nil {
		return Result{}, fmt.Errorf("over TCP (cubic): %w", err)
	}
	env.Progress("TCP cubic %.0f KiB/s", cubic/1024)
	q, err := w.once(ctx, env, true, "", seed)
	if err != nil {
		return Result{}, fmt.Errorf("over QUIC: %w", err)
	}
	env.Progress("QUIC %.0f KiB/s", q/1024)
	info := fmt.Sprintf("seed %d: TCP cubic %.0f KiB/s, QUIC %.0f KiB/s", seed, cubic/1024, q/1024)
	if bbr, err := w.once(ctx, env, false, "bbr", seed); err == nil {
		env.Progress("TCP bbr %.0f KiB/s", bbr/1024)
		info += fmt.Sprintf(", TCP bbr %.0f KiB/s (QUIC ÷ TCP bbr %.2f)", bbr/1024, q/bbr)
	} else if !errors.Is(err, ErrNotApplicable) {
		info += fmt.Sprintf(", TCP bbr: %v", err)
	}
	return Result{Value: q / cubic, Info: info}, nil
}

// once is one goodput measurement in bytes/s over a fresh link.
func (w lossyGoodput) once(ctx context.Context, env *Env, overQUIC bool, tcpCC string, seed int64) (float64, error) {
	ll, err := startLossyLeaf(ctx, env, overQUIC, tcpCC, seed)
	if err != nil {
		return 0, err
	}
	defer ll.Close()
	asyncErr := &firstError{}
	hc, err := ll.connect(netem.A, asyncErr)
	if err != nil {
		return 0, ll.exits(err)
	}
	defer hc.Close()
	var got atomic.Int64
	var seen atomic.Bool
	sub, err := hc.Subscribe("bench.lossy", func(m *nats.Msg) {
		if len(m.Data) == 0 {
			seen.Store(true)
			return
		}
		got.Add(int64(len(m.Data)))
	})
	if err != nil {
		return 0, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	if err := hc.Flush(); err != nil {
		return 0, err
	}
	lc, err := ll.connect(netem.B, asyncErr)
	if err != nil {
		return 0, ll.exits(err)
	}
	defer lc.Close()
	if err := waitCrossed(ctx, lc, "bench.lossy", &seen); err != nil {
		return 0, ll.exits(err)
	}

	// Fresh random bytes for every message: the leaf connection
	// compresses (s2_auto, the default, picks S2 at this round trip), and
	// one payload sent again and again (letters, or random bytes drawn
	// once) shrank some hundredfold in S2's window, so the row measured
	// S2, not the link (40-90 MB/s either way, QUIC ÷ TCP 1.1-1.8).
	payload := make([]byte, w.size)
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	pctx, stop := context.WithCancel(ctx)
	var sent int64
	var pubErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for pctx.Err() == nil {
			if sent-got.Load() >= lossyWindow {
				time.Sleep(500 * time.Microsecond)
				continue
			}
			_, _ = rng.Read(payload)
			if pubErr = lc.Publish("bench.lossy", payload); pubErr != nil {
				return
			}
			sent += int64(len(payload))
		}
	})
	_ = sleepCtx(ctx, max(time.Duration(float64(w.warm)*env.Scale), 500*time.Millisecond))
	g0, t0 := got.Load(), time.Now()
	dur := time.Duration(float64(w.dur) * env.Scale)
	dur = max(dur, 2*time.Second)
	_ = sleepCtx(ctx, dur)
	g1, elapsed := got.Load(), time.Since(t0)
	stop()
	wg.Wait()
	if err := errors.Join(pubErr, asyncErr.get(), ctx.Err()); err != nil {
		return 0, ll.exits(err)
	}
	if exited, why := ll.hub.Exited(); exited {
		return 0, errors.New(why)
	}
	a, b := ll.link.Stats(netem.B), ll.link.Stats(netem.A)
	env.Progress("%s: leaf→hub %d packets (%d B on average), %d lost; hub→leaf %d packets, %d lost", map[bool]string{false: "TCP " + tcpCC, true: "QUIC"}[overQUIC], a.Packets, a.Bytes/max(a.Packets, 1), a.Lost, b.Packets, b.Lost)
	return float64(g1-g0) / elapsed.Seconds(), nil
}

// lossyResume measures how long a leaf takes to resume after its hub is
// killed with SIGKILL and started again at once, through the lossy link,
// while a client of the leaf publishes to a subscriber on the hub every
// probeEvery: seconds from the kill until a message published on the leaf
// reaches a new subscriber on the restarted hub. That spans the hub's
// start, the leaf noticing the dead connection (over TCP the hub's kernel
// resets it; over QUIC the restarted hub answers the leaf's next packet
// with a stateless reset, or else the leaf's idle timeout decides), its
// redial with backoff, the handshakes and the interest crossing.
type lossyResume struct {
	overQUIC bool
}

func (w lossyResume) run(ctx context.Context, env *Env) (Result, error) {
	ll, err := startLossyLeaf(ctx, env, w.overQUIC, "", lossyConfig.Seed)
	if err != nil {
		return Result{}, err
	}
	defer ll.Close()
	asyncErr := &firstError{}
	lc, err := ll.connect(netem.B, asyncErr)
	if err != nil {
		return Result{}, ll.exits(err)
	}
	defer lc.Close()
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() {
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			if lc.Publish("bench.resume", []byte("resume")) != nil {
				return
			}
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
		}
	})
	if err := ll.awaitOnHub(ctx, asyncErr); err != nil {
		return Result{}, err
	}
	t0 := time.Now()
	if err := ll.killHub(ctx); err != nil {
		return Result{}, ll.exits(err)
	}
	back := time.Since(t0)
	if err := ll.awaitOnHub(ctx, asyncErr); err != nil {
		return Result{}, err
	}
	d := time.Since(t0)
	return Result{Value: d.Seconds(), Info: fmt.Sprintf("hub greeting again after %v", back.Round(time.Millisecond))}, nil
}

// awaitOnHub subscribes on the hub with a new client and waits until a
// message from the leaf's publisher arrives there.
func (ll *lossyLeaf) awaitOnHub(ctx context.Context, asyncErr *firstError) error {
	hc, err := ll.connect(netem.A, asyncErr)
	if err != nil {
		return ll.exits(err)
	}
	defer hc.Close()
	sub, err := hc.SubscribeSync("bench.resume")
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if _, err := sub.NextMsgWithContext(tctx); err != nil {
		return ll.exits(fmt.Errorf("nothing from the leaf reached the hub: %w", err))
	}
	return nil
}
