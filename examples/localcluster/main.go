// Command localcluster starts a cluster of Murmur brokers in one process on
// deterministic loopback ports, for reproducible local demos:
//
//	port = base + group*10 + index
//
// with group 0 the client ports, 1 gossip, 2 routes and 3 monitoring. With
// the default base 11000, broker 0 takes clients on 11000, gossip on 11010,
// routes on 11020 and HTTP on 11030; broker 1 on 11001, 11011, 11021, 11031.
//
//	go run ./examples/localcluster -n 3
//	nats -s nats://127.0.0.1:11000 sub 'demo.>' &
//	nats -s nats://127.0.0.1:11002 pub demo.hello hi
//
// Tests never use these ports: they bind port 0, so parallel packages
// cannot collide.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/monitor"
	"github.com/murmurmq/murmur/transport/tcp"
)

// Port groups of the layout.
const (
	groupClient = iota
	groupGossip
	groupRoute
	groupHTTP
)

// Port returns the layout's port for group and broker index.
func Port(base, group, index int) int { return base + group*10 + index }

// node is one running broker of the demo.
type node struct {
	srv *broker.Server
	cl  *cluster.Cluster
	mon *monitor.Server
}

func main() {
	n := flag.Int("n", 3, "number of brokers (at most 10)")
	base := flag.Int("base", 11000, "base port of the layout")
	verbose := flag.Bool("v", false, "log at info level")
	flag.Parse()
	log := zap.NewNop()
	if *verbose {
		log, _ = zap.NewDevelopment()
	}
	nodes, err := start(*n, *base, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
	for i := range nodes {
		fmt.Printf("broker %d: nats://127.0.0.1:%d  http://127.0.0.1:%d/\n", i,
			Port(*base, groupClient, i), Port(*base, groupHTTP, i))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop(nodes)
}

// start launches count brokers on the layout, the first one the gossip
// seed of the others, and returns once the route mesh is complete.
func start(count, base int, log *zap.Logger) ([]*node, error) {
	if count < 1 || count > 10 {
		return nil, fmt.Errorf("-n %d: want 1 to 10 (one port per index in each group of ten)", count)
	}
	var nodes []*node
	seed := fmt.Sprintf("127.0.0.1:%d", Port(base, groupGossip, 0))
	for i := 0; i < count; i++ {
		o := broker.DefaultOptions()
		o.Host, o.Port, o.Name, o.Logger = "127.0.0.1", Port(base, groupClient, i), fmt.Sprintf("demo-%d", i), log
		o.Cluster = &broker.ClusterOptions{
			Name:        "demo",
			Listen:      broker.Listener{Transport: tcp.New(), Addr: fmt.Sprintf("127.0.0.1:%d", Port(base, groupRoute, i))},
			Compression: true,
		}
		nd, err := startNode(o, Port(base, groupGossip, i), Port(base, groupHTTP, i), seed, i > 0, log)
		if err != nil {
			stop(nodes)
			return nil, fmt.Errorf("broker %d: %w", i, err)
		}
		nodes = append(nodes, nd)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, nd := range nodes {
		for nd.srv.NumRoutes() < count-1 {
			if time.Now().After(deadline) {
				stop(nodes)
				return nil, fmt.Errorf("route mesh incomplete after 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nodes, nil
}

func startNode(o broker.Options, gossipPort, httpPort int, seed string, join bool, log *zap.Logger) (*node, error) {
	srv, err := broker.New(o)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	g := gossip.DefaultConfig()
	g.BindAddr, g.BindPort, g.Logger = "127.0.0.1", gossipPort, log
	if join {
		g.Seeds = []string{seed}
	}
	cl, err := cluster.Start(srv, g)
	if err != nil {
		srv.Close()
		return nil, err
	}
	mon, err := monitor.New(monitor.Config{Broker: srv, Host: "127.0.0.1", Port: httpPort, Logger: log,
		Gossip: monitor.GossipFunc(func() []monitor.Member {
			var out []monitor.Member
			for _, m := range cl.Members() {
				out = append(out, monitor.Member{Name: m.Meta.Name, Address: m.GossipAddr(), State: m.State.String(), Local: m.Local, Since: m.Since})
			}
			return out
		})})
	if err == nil {
		err = mon.Start()
	}
	if err != nil {
		cl.Close()
		srv.Close()
		return nil, err
	}
	return &node{srv: srv, cl: cl, mon: mon}, nil
}

func stop(nodes []*node) {
	for _, nd := range nodes {
		nd.mon.Close()
		nd.cl.Leave(time.Second)
		nd.srv.Close()
	}
}
