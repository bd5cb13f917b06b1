package broker_test

import (
	"testing"

	"github.com/murmurmq/murmur/broker"
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
