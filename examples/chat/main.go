// Command chat is a few Murmur nodes chatting across a cluster: each node
// greets everyone with a broadcast and sends its neighbour a direct
// message; every message is acknowledged, and each node prints what it
// receives.
//
//	go run ./examples/chat                                  # starts 3 brokers in-process
//	go run ./examples/chat -servers nats://127.0.0.1:4222,nats://127.0.0.1:4223
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/node"
	"github.com/murmurmq/murmur/transport/tcp"
)

func main() {
	servers := flag.String("servers", "", "comma-separated broker URLs (default: start 3 brokers in-process)")
	names := flag.String("nodes", "alice,bob,carol", "comma-separated node IDs")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var urls []string
	if *servers != "" {
		urls = strings.Split(*servers, ",")
	}
	if err := run(ctx, os.Stdout, urls, strings.Split(*names, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run chats among ids, node i on servers[i % len(servers)], printing one
// line per message received, sorted, once everyone has heard everything.
func run(ctx context.Context, out io.Writer, servers, ids []string) error {
	if len(servers) == 0 {
		urls, stop, err := startCluster(3)
		if err != nil {
			return err
		}
		defer stop()
		servers = urls
	}
	var nodes []*node.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i, id := range ids {
		n, err := node.Connect(ctx, node.Config{ID: id, Namespace: "chat", Servers: []string{servers[i%len(servers)]},
			PresenceInterval: 200 * time.Millisecond})
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	// Wait until everyone sees everyone, so the greetings reach all.
	for _, n := range nodes {
		for len(n.Peers()) < len(ids)-1 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s sees only %v: %w", n.ID(), n.Peers(), ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	want := len(ids) // each node hears len(ids)-1 greetings and one direct
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := 0; got < want; got++ {
				select {
				case m := <-n.Messages():
					mu.Lock()
					lines = append(lines, fmt.Sprintf("%-6s <- %-6s %-9s %s", n.ID(), m.From, m.Kind, m.Payload))
					mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for i, n := range nodes {
		if _, err := n.Broadcast(ctx, []byte("hello everyone, "+n.ID()+" here")); err != nil {
			return err
		}
		// DirectWait returns once next has the message (or says why it
		// never will); RequirePeer refuses at once a node nobody has seen.
		next := ids[(i+1)%len(ids)]
		if _, err := n.DirectWait(ctx, next, []byte("psst "+next+", just you"), node.RequirePeer()); err != nil {
			return err
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	for _, n := range nodes {
		if err := n.Close(); err != nil { // waits for the last acks
			return err
		}
		s := n.Stats()
		fmt.Fprintf(out, "%-6s sent %d, received %d, acks %d/%d, failed %d\n", n.ID(), s.DataSent, s.DataReceived, s.AckSent, s.AckReceived, s.Failed)
	}
	return nil
}

// startCluster starts count brokers on loopback that find each other by
// gossip, and returns their client URLs once routes connect them all.
func startCluster(count int) ([]string, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	var urls, seeds []string
	var srvs []*broker.Server
	for i := 0; i < count; i++ {
		o := broker.DefaultOptions()
		o.Host, o.Port, o.Name = "127.0.0.1", -1, fmt.Sprintf("chat-%d", i)
		o.Cluster = &broker.ClusterOptions{Name: "chat", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
		srv, err := broker.New(o)
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			stop()
			return nil, nil, err
		}
		g := gossip.DefaultConfig()
		g.BindAddr, g.BindPort, g.Seeds = "127.0.0.1", 0, seeds
		cl, err := cluster.Start(srv, g)
		if err != nil {
			srv.Close()
			stop()
			return nil, nil, err
		}
		stops = append(stops, func() { cl.Close(); srv.Close() })
		if i == 0 {
			seeds = []string{cl.Gossip().AdvertiseAddr()}
		}
		srvs = append(srvs, srv)
		urls = append(urls, srv.ClientURL())
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		meshed := true
		for _, s := range srvs {
			meshed = meshed && s.NumRoutes() == count-1
		}
		if meshed {
			return urls, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("brokers did not mesh")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
