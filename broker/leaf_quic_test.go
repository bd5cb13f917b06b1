package broker_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
)

// A leaf connection over QUIC between Murmur brokers: the hub's QUIC leaf
// listener with a self-signed certificate, the leaf pinning it.
func TestLeafQUIC(t *testing.T) {
	qt, err := quic.New(quic.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.LeafNode = &broker.LeafNodeOptions{QUIC: &broker.Listener{Transport: qt, Addr: "127.0.0.1:0"}}
	hub := startServer(t, o, nil)

	dc := quic.DefaultConfig()
	dc.Dial.Fingerprint = qt.Fingerprint()
	lt, err := quic.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	leaf := startLeafOf(t, "quic://"+hub.LeafQUICAddr().String(), func(r *broker.RemoteLeaf) { r.QUIC = lt })
	waitLeafs(t, leaf, 1)
	waitLeafs(t, hub, 1)
	exercise(t, connectTCP(t, hub), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))

	// Without the transport a quic:// remote is refused at validation.
	bad := testOptions()
	bad.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{"quic://127.0.0.1:1"}}}}
	if _, err := broker.New(bad); err == nil {
		t.Fatal("quic:// without a QUIC transport accepted")
	}
}

// Failover between QUIC hubs: two clustered hubs with QUIC leaf listeners
// (one certificate, so the leaf pins one fingerprint); the leaf, dialed
// to the first over quic://, learns the second's QUIC listener from INFO
// leafnode_quic_urls and moves there when the first goes.
func TestLeafHubFailoverQUIC(t *testing.T) {
	qt, err := quic.New(quic.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var hubs []*broker.Server
	// The second hub binds all interfaces, which a leaf cannot dial, and
	// advertises the loopback address instead.
	port := testutil.FreePort(t)
	for i := range 2 {
		o := testOptions()
		clusterOptions(&o, i)
		o.LeafNode = &broker.LeafNodeOptions{QUIC: &broker.Listener{Transport: qt, Addr: "127.0.0.1:0"}}
		if i == 1 {
			o.LeafNode.QUIC.Addr = fmt.Sprintf("0.0.0.0:%d", port)
			o.LeafNode.QUICAdvertise = fmt.Sprintf("127.0.0.1:%d", port)
		}
		hubs = append(hubs, startServer(t, o, nil))
	}
	meshUp(t, hubs)
	dc := quic.DefaultConfig()
	dc.Dial.Fingerprint = qt.Fingerprint()
	lt, err := quic.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	leaf := startLeafOf(t, "quic://"+hubs[0].LeafQUICAddr().String(), func(r *broker.RemoteLeaf) { r.QUIC = lt })
	waitLeafs(t, hubs[0], 1)
	second := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 5*time.Second, "the leaf learned the other hub's QUIC URL", func() bool {
		return slices.Contains(leaf.LearnedLeafURLs(), second)
	})
	lc := connectTCP(t, leaf)
	s, _ := lc.SubscribeSync("after.failover")
	lc.Flush()
	hubs[0].Close()
	waitLeafs(t, hubs[1], 1)
	ourInterest(t, hubs[1])("the surviving hub has the leaf's interest", []string{"after.failover"}, nil)
	connectTCP(t, hubs[1]).Publish("after.failover", []byte("ok"))
	if m := leafRecv(t, s); string(m.Data) != "ok" {
		t.Fatalf("got %q", m.Data)
	}
}
