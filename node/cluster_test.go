package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/murmurmq/murmur/node"
)

// sentLog records what each sender sent, to check receivers against.
type sentLog struct {
	mu     sync.Mutex
	direct map[msgKey]string // (from, seq) -> to
	bcast  []msgKey
}

func newSentLog() *sentLog { return &sentLog{direct: make(map[msgKey]string)} }

func (l *sentLog) addDirect(from string, seq uint64, to string) {
	l.mu.Lock()
	l.direct[msgKey{from, seq}] = to
	l.mu.Unlock()
}

// TestClusterExactlyOnce: 5 nodes on 3 brokers, two of them over QUIC, all
// sending directs to each other and broadcasts: every message arrives once
// at each addressee and the counters add up.
func TestClusterExactlyOnce(t *testing.T) {
	bs := startCluster(t, 3)
	cfgs := []node.Config{
		testConfig("n0", bs[0]),
		overQUIC(testConfig("n1", bs[0]), bs[0]),
		testConfig("n2", bs[1]),
		overQUIC(testConfig("n3", bs[2]), bs[2]),
		testConfig("n4", bs[2]),
	}
	var nodes []*node.Node
	var cols []*collector
	for _, c := range cfgs {
		n := connectNode(t, c)
		nodes = append(nodes, n)
		cols = append(cols, collect(n))
	}
	waitPeers(t, nodes)

	const directsPerPeer, broadcasts = 100, 40
	log := newSentLog()
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for k := 0; k < directsPerPeer; k++ {
				for j := range nodes {
					if j == i {
						continue
					}
					to := cfgs[j].ID
					seq, err := n.Direct(ctx, to, []byte(fmt.Sprintf("%s->%s %d", n.ID(), to, k)))
					if err != nil {
						errs <- err
						return
					}
					log.addDirect(n.ID(), seq, to)
				}
				if k < broadcasts {
					seq, err := n.Broadcast(ctx, []byte("all"))
					if err != nil {
						errs <- err
						return
					}
					log.mu.Lock()
					log.bcast = append(log.bcast, msgKey{n.ID(), seq})
					log.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	peers := len(nodes) - 1
	wantPerNode := directsPerPeer*peers + broadcasts*peers
	eventually(t, 20*time.Second, "all delivered and confirmed", func() bool {
		for i, n := range nodes {
			if d, _ := cols[i].counts(); d != wantPerNode || n.Stats().Unconfirmed != 0 {
				return false
			}
		}
		return true
	})
	for key, to := range log.direct {
		for i, c := range cfgs {
			got := cols[i].got[key]
			if c.ID == to && got != 1 {
				t.Fatalf("direct %v to %s arrived %d times", key, to, got)
			}
			if c.ID != to && got != 0 {
				t.Fatalf("direct %v to %s arrived at %s", key, to, c.ID)
			}
		}
	}
	for _, key := range log.bcast {
		for i, c := range cfgs {
			want := 1
			if c.ID == key.from {
				want = 0
			}
			if got := cols[i].got[key]; got != want {
				t.Fatalf("broadcast %v arrived %d times at %s", key, got, c.ID)
			}
		}
	}
	// Counters add up. Acks may still be in flight for duplicates' re-acks.
	var sent, recv, ackS, ackR, dups uint64
	defer func() {
		if t.Failed() {
			t.Logf("sums: data_sent %d data_received %d ack_sent %d ack_received %d duplicates %d", sent, recv, ackS, ackR, dups)
			for _, n := range nodes {
				t.Logf("%s: %+v", n.ID(), n.Stats())
			}
		}
	}()
	eventually(t, 5*time.Second, "counters add up", func() bool {
		sent, recv, ackS, ackR, dups = 0, 0, 0, 0, 0
		for _, n := range nodes {
			s := n.Stats()
			sent += s.DataSent
			recv += s.DataReceived
			ackS += s.AckSent
			ackR += s.AckReceived
			dups += s.DuplicatesDropped
		}
		total := uint64(len(nodes) * (directsPerPeer*peers + broadcasts))
		// A duplicate that arrives before its first delivery's ack went
		// out shares that ack, so ackS can be below recv+dups.
		return sent == total && recv == uint64(len(nodes)*wantPerNode) && ackS >= recv && ackS <= recv+dups && ackR == ackS
	})
	for i, n := range nodes {
		s := n.Stats()
		if _, dups := cols[i].counts(); dups != 0 || s.Failed != 0 || s.Malformed != 0 {
			t.Fatalf("%s: app duplicates %d, stats %+v", n.ID(), dups, s)
		}
		t.Logf("%s: %+v", n.ID(), s)
	}
}
