// Package gossip is the membership layer Murmur brokers use to find each
// other. It wraps hashicorp/memberlist (SWIM failure detection, gossip,
// optional AES-GCM encryption) and hides memberlist's types: the broker
// sees a Config, a Meta it publishes about itself, Members and Events.
//
// What gossip adds to memberlist:
//   - cluster separation by name (memberlist label plus a metadata check),
//   - compact, versioned metadata (route and client URLs, see docs/gossip.md),
//   - events that never block memberlist, with graceful leave told apart
//     from failure,
//   - join with backoff, and a periodic re-join of seeds and recently dead
//     members so that a partition heals by itself (memberlist does not),
//   - a transport that Close can tear down promptly, with fault injection
//     for tests (Faults).
package gossip

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// Errors returned by Gossip methods.
var (
	ErrClosed       = errors.New("gossip: closed")
	ErrLeft         = errors.New("gossip: node has left the cluster")
	ErrNoEncryption = errors.New("gossip: encryption was not enabled at start (no SecretKey); restart with a key to enable it")
)

// eventBuffer is the capacity of the Events channel; the queue behind it
// is unbounded.
const eventBuffer = 64

// maxRejoinDead caps how many dead members' addresses one re-join round
// dials.
const maxRejoinDead = 32

// Gossip is one running membership node. Create it with New; it listens at
// once and joins its seeds in the background. All methods are safe for
// concurrent use.
type Gossip struct {
	cfg     Config
	log     *zap.Logger
	ml      *memberlist.Memberlist
	tr      *transport
	del     *delegate
	keyring *memberlist.Keyring // nil without encryption

	bindPort int
	advAddr  string // "ip:port" others reach us at

	queue  *eventQueue
	events chan Event

	mu     sync.Mutex // serialises UpdateMeta, Leave, Close and key changes
	local  wireMeta
	left   bool
	closed bool

	seedsMu   sync.Mutex
	seeds     []string
	rejoinNow chan struct{} // cap 1: SetSeeds wakes the re-join loop

	ctx      context.Context // cancelled by Leave and Close: stops the join loops
	cancel   context.CancelFunc
	done     chan struct{} // closed by Close: stops the dispatcher
	wg       sync.WaitGroup
	joined   chan struct{}
	joinOnce sync.Once

	rejoins atomic.Int64 // successful re-join rounds, for tests and metrics
}

// New validates cfg, binds the gossip port (UDP and TCP), starts
// memberlist and begins joining cfg.Seeds in the background. It does not
// wait for the join; see Joined.
func New(cfg Config) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mlc, _ := profileConfig(cfg.Profile)
	cfg.Timing.apply(mlc)
	log := cfg.Logger.With(zap.String("node", cfg.nodeName()))

	g := &Gossip{
		cfg:       cfg,
		log:       log,
		queue:     newEventQueue(),
		events:    make(chan Event, eventBuffer),
		seeds:     cfg.Seeds,
		rejoinNow: make(chan struct{}, 1),
		done:      make(chan struct{}),
		joined:    make(chan struct{}),
		local:     wireMeta{Meta: cfg.localMeta()},
	}
	g.del = &delegate{
		name:    cfg.nodeName(),
		cluster: cfg.Cluster,
		table:   newMemberTable(),
		queue:   g.queue,
		log:     log,
		limiter: newLogLimiter(time.Minute),
	}
	if err := g.storeMeta(g.local); err != nil {
		return nil, fmt.Errorf("gossip: Meta: %w", err)
	}

	mlLog := newMemberlistLogger(log)
	nt, err := listen(cfg.BindAddr, cfg.BindPort, mlLog)
	if err != nil {
		return nil, err
	}
	g.tr = newTransport(nt, cfg.Faults)
	g.bindPort = nt.GetAutoBindPort()
	ip, _, err := nt.FinalAdvertiseAddr(cfg.AdvertiseAddr, 0)
	if err != nil {
		_ = g.tr.Shutdown()
		return nil, fmt.Errorf("gossip: advertise address: %w", err)
	}
	port := g.bindPort
	if cfg.AdvertisePort != 0 {
		port = cfg.AdvertisePort
	}
	g.advAddr = net.JoinHostPort(ip.String(), strconv.Itoa(port))

	mlc.Name = cfg.nodeName()
	mlc.BindAddr, mlc.BindPort = cfg.BindAddr, g.bindPort
	mlc.AdvertiseAddr, mlc.AdvertisePort = ip.String(), port
	mlc.Transport = g.tr
	mlc.Logger, mlc.LogOutput = mlLog, nil
	mlc.Delegate, mlc.Events, mlc.Alive, mlc.Merge, mlc.Conflict = g.del, g.del, g.del, g.del, g.del
	if !cfg.noLabel {
		mlc.Label = cfg.Cluster
	}
	key, _ := cfg.secretKey()
	if key != nil {
		if g.keyring, err = memberlist.NewKeyring(nil, key); err != nil {
			_ = g.tr.Shutdown()
			return nil, fmt.Errorf("gossip: SecretKey: %w", err)
		}
		mlc.Keyring = g.keyring
		for _, k := range cfg.ExtraKeys {
			raw, _ := DecodeKey(k) // validated
			if err := g.keyring.AddKey(raw); err != nil {
				_ = g.tr.Shutdown()
				return nil, fmt.Errorf("gossip: ExtraKeys: %w", err)
			}
		}
	}

	if g.ml, err = memberlist.Create(mlc); err != nil {
		_ = g.tr.Shutdown()
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.wg.Add(1)
	go func() { defer g.wg.Done(); dispatch(g.queue, g.events, g.done) }()
	if len(g.seedTargets(nil)) == 0 {
		g.markJoined() // the first node of its cluster
	} else {
		g.wg.Add(1)
		go g.joinLoop()
	}
	if cfg.RejoinInterval > 0 {
		g.wg.Add(1)
		go g.rejoinLoop()
	}
	log.Info("gossip: started", zap.String("cluster", cfg.Cluster),
		zap.String("bind", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(g.bindPort))),
		zap.String("advertise", g.advAddr), zap.Bool("encrypted", key != nil),
		zap.Strings("seeds", cfg.Seeds))
	return g, nil
}

// listen creates memberlist's UDP+TCP transport. With port 0 the kernel's
// TCP port may be taken on UDP, so it retries like memberlist does.
func listen(addr string, port int, l *log.Logger) (*memberlist.NetTransport, error) {
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{addr},
			BindPort:  port,
			Logger:    l,
		})
		if err == nil {
			return nt, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("gossip: listen on %s: %w", net.JoinHostPort(addr, strconv.Itoa(port)), err)
}

// Events returns the channel membership events arrive on. It is closed by
// Close. Events queue without bound (consecutive Updates of a member
// coalesce) while nobody reads, so the broker should drain it.
func (g *Gossip) Events() <-chan Event { return g.events }

// Joined is closed once the node has joined through at least one seed, or
// at once if it has no seeds (it is then the first node of its cluster).
func (g *Gossip) Joined() <-chan struct{} { return g.joined }

// Members returns a snapshot of all known members, the local node included,
// sorted by name. Dead and departed members stay listed for
// Config.DeadRetention.
func (g *Gossip) Members() []Member {
	g.del.table.prune(g.cfg.DeadRetention)
	return g.del.table.snapshot()
}

// LocalMember returns the local node's entry.
func (g *Gossip) LocalMember() Member {
	m, _ := g.del.table.get(g.cfg.nodeName())
	return m
}

// Name returns the local node name.
func (g *Gossip) Name() string { return g.cfg.nodeName() }

// Port returns the bound gossip port (the real one when Config.BindPort
// was 0).
func (g *Gossip) Port() int { return g.bindPort }

// AdvertiseAddr returns the "ip:port" other nodes reach this node at; it is
// what another node puts in its Seeds.
func (g *Gossip) AdvertiseAddr() string { return g.advAddr }

// HealthScore returns memberlist's local health (Lifeguard awareness): 0 is
// healthy, higher means this node has been missing probes and is probably
// overloaded or cut off.
func (g *Gossip) HealthScore() int { return g.ml.GetHealthScore() }

// UpdateMeta replaces the local metadata and gossips it (memberlist
// UpdateNode). Cluster is filled from the config and must not differ; Name
// defaults to the node name. It returns once the change is applied locally
// and queued; it reaches the other members within a few gossip intervals.
func (g *Gossip) UpdateMeta(meta Meta) error {
	if meta.Cluster != "" && meta.Cluster != g.cfg.Cluster {
		return fmt.Errorf("gossip: Meta.Cluster %q differs from the cluster %q", meta.Cluster, g.cfg.Cluster)
	}
	if err := validateMeta("Meta", meta); err != nil {
		return err
	}
	meta = meta.clone()
	meta.Cluster = g.cfg.Cluster
	if meta.Name == "" {
		meta.Name = g.cfg.nodeName()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return ErrClosed
	case g.left:
		return ErrLeft
	}
	w := wireMeta{Meta: meta, seq: g.local.seq + 1}
	if err := g.storeMeta(w); err != nil {
		return fmt.Errorf("gossip: UpdateMeta: %w", err)
	}
	g.local = w
	// UpdateNode only times out waiting for the broadcast to finish, which
	// we do not wait for; it has already applied the change.
	_ = g.ml.UpdateNode(time.Nanosecond)
	return nil
}

// storeMeta encodes w and makes it what NodeMeta returns.
func (g *Gossip) storeMeta(w wireMeta) error {
	b, err := encodeMeta(w)
	if err != nil {
		return err
	}
	g.del.meta.Store(&b)
	return nil
}

// Leave leaves the cluster gracefully: it gossips a leaving flag, then
// memberlist's leave message, so the other members see EventLeave rather
// than EventDead. It waits up to timeout for the two broadcasts (half each)
// and returns an error if the leave message may not have gone out. Call
// Close afterwards; the node cannot rejoin.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return ErrClosed
	case g.left:
		return nil
	}
	g.left = true
	g.cancel() // no more joins
	start := time.Now()
	w := g.local
	w.seq++
	w.leaving = true
	if err := g.storeMeta(w); err == nil {
		g.local = w
		if err := g.ml.UpdateNode(max(timeout/2, time.Nanosecond)); err != nil {
			g.log.Debug("gossip: leaving flag not fully gossiped", zap.Error(err))
		}
	}
	rest := max(timeout-time.Since(start), time.Nanosecond)
	if err := g.ml.Leave(rest); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	g.log.Info("gossip: left the cluster")
	return nil
}

// Close shuts memberlist down without a leave message (the others will
// declare this node dead unless Leave was called), stops every goroutine
// gossip started and closes the Events channel. It is idempotent.
//
// memberlist's own goroutines are told to stop but not waited for; they
// exit within a few milliseconds, as the transport they read is closed.
func (g *Gossip) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()

	g.cancel()
	err := g.ml.Shutdown()
	g.queue.close()
	close(g.done)
	g.wg.Wait()
	g.log.Debug("gossip: closed")
	return err
}

// InstallKey adds a key to the keyring without using it for sending. Install
// a new key on every node before UseKey on any of them.
func (g *Gossip) InstallKey(key []byte) error {
	if err := memberlist.ValidateKey(key); err != nil {
		return fmt.Errorf("gossip: InstallKey: %w", err)
	}
	return g.withKeyring("InstallKey", func(k *memberlist.Keyring) error { return k.AddKey(key) })
}

// UseKey makes an installed key the one used to encrypt outgoing messages.
func (g *Gossip) UseKey(key []byte) error {
	return g.withKeyring("UseKey", func(k *memberlist.Keyring) error { return k.UseKey(key) })
}

// RemoveKey drops a key from the keyring; the key in use cannot be removed.
func (g *Gossip) RemoveKey(key []byte) error {
	return g.withKeyring("RemoveKey", func(k *memberlist.Keyring) error { return k.RemoveKey(key) })
}

func (g *Gossip) withKeyring(op string, f func(*memberlist.Keyring) error) error {
	if g.keyring == nil {
		return ErrNoEncryption
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if err := f(g.keyring); err != nil {
		return fmt.Errorf("gossip: %s: %w", op, err)
	}
	return nil
}

// SetKeys makes the keyring exactly primary (used to send) plus extra
// (accepted when receiving); other keys are removed. Rotating without
// downtime takes three rounds over all nodes: add the new key as extra;
// make it primary with the old one extra; drop the old one.
func (g *Gossip) SetKeys(primary []byte, extra [][]byte) error {
	if err := memberlist.ValidateKey(primary); err != nil {
		return fmt.Errorf("gossip: SetKeys: %w", err)
	}
	return g.withKeyring("SetKeys", func(k *memberlist.Keyring) error {
		keep := map[string]bool{string(primary): true}
		if err := k.AddKey(primary); err != nil {
			return err
		}
		for _, e := range extra {
			if err := k.AddKey(e); err != nil {
				return err
			}
			keep[string(e)] = true
		}
		if err := k.UseKey(primary); err != nil {
			return err
		}
		for _, old := range k.GetKeys() {
			if !keep[string(old)] {
				if err := k.RemoveKey(old); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// SetSeeds replaces the seed list used by the join and re-join loops.
func (g *Gossip) SetSeeds(seeds []string) error {
	if err := validateSeeds(seeds); err != nil {
		return err
	}
	g.seedsMu.Lock()
	g.seeds = append([]string(nil), seeds...)
	g.seedsMu.Unlock()
	select {
	case g.rejoinNow <- struct{}{}:
	default:
	}
	return nil
}
