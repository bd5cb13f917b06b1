package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/node"
)

// nodeNamespace keeps the harness's nodes apart from anything else.
const nodeNamespace = "chaos"

// nodeClient is one node SDK node, homed on one broker, sending acked
// directs to random other nodes and broadcasts to all, and recording
// everything it sent, received, was told failed, and its view of peers.
type nodeClient struct {
	idx int
	id  string
	n   *node.Node

	mu       sync.Mutex
	sent     map[uint64]sentData
	failed   map[uint64]error
	got      map[string]map[uint64]int // from -> seq -> hand-overs
	events   []peerEvent
	blocked  int // sends that found the unconfirmed set full for 2 s
	sendErrs int
}

type sentData struct {
	kind node.Kind
	to   string
	at   int64
}

type peerEvent struct {
	at   int64
	peer string
	left bool
}

// nodes is every node of the run.
type nodes struct {
	start time.Time
	all   []*nodeClient
	stop  chan struct{}
	send  sync.WaitGroup // the senders
	recv  sync.WaitGroup // the readers of Messages, Errors and Watch
	watch context.CancelFunc
}

func (ns *nodes) since() int64 { return int64(time.Since(ns.start)) }

// startNodes connects one node per broker and waits until each sees all
// the others before it starts sending.
func startNodes(ctx context.Context, c *cluster, r rates, seed uint64, start time.Time, logf func(string, ...any)) (*nodes, error) {
	wctx, cancel := context.WithCancel(context.Background())
	ns := &nodes{start: start, stop: make(chan struct{}), watch: cancel}
	for i := range c.brokers {
		id := fmt.Sprintf("n%d", i)
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := node.Connect(cctx, node.Config{
			ID:        id,
			Namespace: nodeNamespace,
			Servers:   c.URLs(i),
			NATSOptions: []nats.Option{
				nats.DontRandomize(),
				nats.PingInterval(time.Second),
				nats.MaxPingsOutstanding(3),
			},
		})
		ccancel()
		if err != nil {
			ns.close()
			return nil, err
		}
		nc := &nodeClient{idx: i, id: id, n: n, sent: map[uint64]sentData{}, failed: map[uint64]error{}, got: map[string]map[uint64]int{}}
		ns.all = append(ns.all, nc)
		ns.read(wctx, nc)
	}
	deadline := time.Now().Add(20 * time.Second)
	for ns.peerProblem() != "" {
		if time.Now().After(deadline) {
			p := ns.peerProblem()
			ns.close()
			return nil, fmt.Errorf("nodes did not see each other: %s", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, nc := range ns.all {
		rng := rand.New(rand.NewPCG(seed, uint64(1000+i)))
		ns.every(r.direct, func() { nc.direct(rng, len(ns.all), ns.since) })
		ns.every(r.broadcast, func() { nc.broadcast(ns.since) })
	}
	return ns, nil
}

// read drains the node's channels into its records.
func (ns *nodes) read(ctx context.Context, nc *nodeClient) {
	watch := nc.n.Watch(ctx) // a join for every live peer first
	ns.recv.Add(3)
	go func() {
		defer ns.recv.Done()
		for m := range nc.n.Messages() {
			nc.mu.Lock()
			g := nc.got[m.From]
			if g == nil {
				g = map[uint64]int{}
				nc.got[m.From] = g
			}
			g[m.Seq]++
			nc.mu.Unlock()
		}
	}()
	go func() {
		defer ns.recv.Done()
		for e := range nc.n.Errors() {
			nc.mu.Lock()
			nc.failed[e.Seq] = e.Err
			nc.mu.Unlock()
		}
	}()
	go func() {
		defer ns.recv.Done()
		for ev := range watch {
			nc.mu.Lock()
			nc.events = append(nc.events, peerEvent{at: ns.since(), peer: ev.Peer.ID, left: ev.Left})
			nc.mu.Unlock()
		}
	}()
}

func (ns *nodes) every(rate float64, f func()) {
	if rate <= 0 {
		return
	}
	ns.send.Add(1)
	go func() {
		defer ns.send.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-ns.stop:
				return
			case <-tick.C:
				f()
			}
		}
	}()
}

func (nc *nodeClient) direct(rng *rand.Rand, n int, now func() int64) {
	to := rng.IntN(n - 1)
	if to >= nc.idx {
		to++
	}
	target := fmt.Sprintf("n%d", to)
	nc.do(node.KindDirect, target, now, func(ctx context.Context) (uint64, error) {
		return nc.n.Direct(ctx, target, []byte("d"))
	})
}

func (nc *nodeClient) broadcast(now func() int64) {
	nc.do(node.KindBroadcast, "", now, func(ctx context.Context) (uint64, error) {
		return nc.n.Broadcast(ctx, []byte("b"))
	})
}

// do runs one send. The record is taken before the call returns its seq,
// under the node's lock, so a hand-over or a failure report for the seq
// can only come after (the SDK sends after assigning the seq; our record
// is what the checks compare against).
func (nc *nodeClient) do(kind node.Kind, to string, now func() int64, send func(context.Context) (uint64, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	at := now()
	seq, err := send(ctx)
	nc.mu.Lock()
	defer nc.mu.Unlock()
	switch {
	case errors.Is(err, node.ErrTooManyUnconfirmed):
		nc.blocked++
	case err != nil:
		nc.sendErrs++
	default:
		nc.sent[seq] = sentData{kind: kind, to: to, at: at}
	}
}

// peerProblem says which node does not see every other node, or "".
func (ns *nodes) peerProblem() string {
	for _, nc := range ns.all {
		if got := len(nc.n.Peers()); got != len(ns.all)-1 {
			return fmt.Sprintf("node %s sees %d peers, want %d", nc.id, got, len(ns.all)-1)
		}
	}
	return ""
}

// halt stops the senders.
func (ns *nodes) halt() {
	select {
	case <-ns.stop:
	default:
		close(ns.stop)
	}
	ns.send.Wait()
}

// settle waits until no node has anything unconfirmed (every Data acked or
// given up) or d passes, and says what is left.
func (ns *nodes) settle(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		left := ""
		for _, nc := range ns.all {
			if u := nc.n.Stats().Unconfirmed; u > 0 {
				left = fmt.Sprintf("node %s has %d unconfirmed", nc.id, u)
				break
			}
		}
		if left == "" || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// close closes every node (abandoning what is still unconfirmed: settle
// came first) and waits for the readers.
func (ns *nodes) close() {
	ns.halt()
	for _, nc := range ns.all {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = nc.n.Shutdown(ctx)
		cancel()
	}
	ns.watch()
	ns.recv.Wait()
}
