package cluster_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport"
	"github.com/murmurmq/murmur/transport/tcp"
)

// TestMain fails the run on leaked goroutines. memberlist's probe
// goroutines outlive Shutdown by up to one probe interval (they wait on a
// timer), so the check retries for a few seconds before failing.
func TestMain(m *testing.M) { testutil.LeakCheckMain(m) }

// node is one broker with its cluster membership.
type node struct {
	srv    *broker.Server
	cl     *cluster.Cluster
	faults *gossip.Faults
}

// nodeOpts tweak one node of a test cluster.
type nodeOpts struct {
	cluster    string
	credential string
	key        string
	seeds      []string
	// routes is the route transport (default plain TCP), e.g. a
	// fault.Transport.
	routes transport.Transport
	// broker tweaks the broker's options before it starts.
	broker func(*broker.Options)
	// log is the broker's logger, which gossip and the cluster layer
	// share (default: none, or MURMUR_TEST_LOG's).
	log *zap.Logger
	// gossipPort is the gossip port (default: a free one the kernel picks).
	gossipPort int
}

// fastGossip is testutil.FastGossip: LAN with quick probes.
var fastGossip = testutil.FastGossip

// startNode starts a clustered broker on loopback and joins it to seeds.
func startNode(t *testing.T, name string, o nodeOpts) *node {
	t.Helper()
	if o.cluster == "" {
		o.cluster = "test"
	}
	bo := broker.DefaultOptions()
	bo.Host, bo.Port, bo.Name = "127.0.0.1", -1, name
	if os.Getenv("MURMUR_TEST_LOG") != "" {
		bo.Logger, _ = zap.NewDevelopment()
	}
	if o.log != nil {
		bo.Logger = o.log
	}
	if o.routes == nil {
		o.routes = tcp.New()
	}
	bo.Cluster = &broker.ClusterOptions{
		Name:        o.cluster,
		Listen:      broker.Listener{Transport: o.routes, Addr: "127.0.0.1:0"},
		Credential:  o.credential,
		Compression: true,
	}
	if o.broker != nil {
		o.broker(&bo)
	}
	srv, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	g := fastGossip()
	g.Seeds = o.seeds
	g.SecretKey = o.key
	g.BindPort = o.gossipPort
	g.Faults = gossip.NewFaults()
	cl, err := cluster.Start(srv, g)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	n := &node{srv: srv, cl: cl, faults: g.Faults}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.cl.Close()
	n.srv.Close()
}

// gossipAddr is where other nodes reach this node's gossip.
func (n *node) gossipAddr() string { return n.cl.Gossip().AdvertiseAddr() }

// startCluster starts n brokers seeded by the first and waits for the full
// route mesh.
func startCluster(t *testing.T, count int) []*node {
	t.Helper()
	nodes := []*node{startNode(t, "n0", nodeOpts{})}
	for i := 1; i < count; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), nodeOpts{seeds: []string{nodes[0].gossipAddr()}}))
	}
	// Generous: under -race, with other packages' tests on the same two
	// cores, ten in-process brokers can take several times the quiet
	// machine's ~3 s (bench/ measures convergence; tests only wait).
	waitMesh(t, nodes, 45*time.Second)
	return nodes
}

// waitMesh waits until every node has a route to every other.
func waitMesh(t *testing.T, nodes []*node, d time.Duration) {
	t.Helper()
	eventually(t, d, "full route mesh", func() bool {
		for _, n := range nodes {
			if n.srv.NumRoutes() != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

// eventually waits for cond (see testutil.Eventually).
var eventually = testutil.Eventually

func connect(t *testing.T, srv *broker.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitInterest waits until every node sees subscriptions to subject
// standing for at least want members (local plus remote weights).
func waitInterest(t *testing.T, nodes []*node, subject string, want int) {
	t.Helper()
	for _, n := range nodes {
		eventually(t, 20*time.Second, "interest in "+subject, func() bool {
			r := n.srv.Mux().Match([]byte(subject))
			got := len(r.Plain)
			for _, g := range r.Queues {
				for _, m := range g.Members {
					got += max(m.Weight, 1)
				}
			}
			return got >= want
		})
	}
}
