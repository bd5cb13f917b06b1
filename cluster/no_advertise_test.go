package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// TestNoAdvertise: a broker with cluster.no_advertise (--no_advertise)
// gives its clients no connect_urls and gossips no client URLs, so its
// peers do not advertise it either (nats-server's no_advertise); the
// routes work as ever.
func TestNoAdvertise(t *testing.T) {
	quiet := func(o *broker.Options) { o.Cluster.NoAdvertise = true }
	b1 := startNode(t, "open", nodeOpts{})
	b2 := startNode(t, "quiet", nodeOpts{seeds: []string{b1.gossipAddr()}, broker: quiet})
	b3 := startNode(t, "other", nodeOpts{seeds: []string{b1.gossipAddr()}})
	waitMesh(t, []*node{b1, b2, b3}, 10*time.Second)
	// b1 advertises b3 (the ordinary peer) and never b2.
	eventually(t, 10*time.Second, "open to advertise other", func() bool {
		return slices.Contains(b1.srv.ConnectURLs(), hostPort(b3.srv))
	})
	if got := infoConnectURLs(t, b1.srv); slices.Contains(got, hostPort(b2.srv)) || !slices.Contains(got, hostPort(b3.srv)) {
		t.Errorf("open's INFO connect_urls %v: want other's %s and not quiet's %s", got, hostPort(b3.srv), hostPort(b2.srv))
	}
	if got := infoConnectURLs(t, b2.srv); len(got) != 0 {
		t.Errorf("quiet's INFO connect_urls %v, want none", got)
	}
	// Messages still cross quiet's routes.
	sub := connect(t, b1.srv)
	s, err := sub.SubscribeSync("across")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, b2.srv)
	eventually(t, 5*time.Second, "a message from quiet to open", func() bool {
		pub.Publish("across", []byte("x"))
		_, err := s.NextMsg(50 * time.Millisecond)
		return err == nil
	})
}
