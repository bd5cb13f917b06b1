package broker_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// TestLeafIsolation: with isolate_leafnode_interest on the hub, or
// request_isolation on a leaf, that leaf is not told of the other leaves'
// interest (no east-west traffic through the hub), while the hub's own
// interest still reaches it; a leaf without isolation is told. Our hub
// and nats-server's alike, with two of our leaves.
func TestLeafIsolation(t *testing.T) {
	type hub struct {
		url     string
		connect func() *nats.Conn
		has     func(what string, has, hasNot []string)
	}
	ours := func(isolate bool) hub {
		h := startHub(t, func(o *broker.LeafNodeOptions) { o.IsolateInterest = isolate })
		return hub{leafURL(h), func() *nats.Conn { return connectTCP(t, h) }, ourInterest(t, h)}
	}
	theirs := func(isolate bool) hub {
		p := startNats(t, true, fmt.Sprintf("isolate_leafnode_interest: %v", isolate))
		return hub{p.leafURL(), func() *nats.Conn { return p.connect() }, p.waitInterest}
	}
	for _, tc := range []struct {
		name             string
		hubIsolates, req bool
		isolated         bool
	}{
		{"not isolated", false, false, false},
		{"hub isolates", true, false, true},
		{"leaf requests", false, true, true},
	} {
		for name, start := range map[string]func(bool) hub{"our hub": ours, "nats-server hub": theirs} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				h := start(tc.hubIsolates)
				a := startLeafOf(t, h.url, nil)
				b := startLeafOf(t, h.url, func(r *broker.RemoteLeaf) { r.RequestIsolation = tc.req })
				ac, bc, hc := connectTCP(t, a), connectTCP(t, b), h.connect()
				onA, _ := ac.SubscribeSync("only.a")
				ac.Flush()
				onHub, _ := hc.SubscribeSync("hub.x")
				hc.Flush()
				h.has("the hub has A's interest", []string{"only.a"}, nil)
				if tc.isolated {
					ourInterest(t, b)("B has the hub's interest, not A's", []string{"hub.x"}, []string{"only.a"})
				} else {
					ourInterest(t, b)("B has A's interest", []string{"hub.x", "only.a"}, nil)
				}
				bc.Publish("only.a", []byte("from b"))
				bc.Publish("hub.x", []byte("from b"))
				bc.Flush()
				if m := leafRecv(t, onHub); string(m.Data) != "from b" {
					t.Fatalf("hub got %q", m.Data)
				}
				if tc.isolated {
					leafNoMsg(t, onA)
				} else if m := leafRecv(t, onA); string(m.Data) != "from b" {
					t.Fatalf("A got %q", m.Data)
				}
				hc.Publish("only.a", []byte("from hub"))
				hc.Flush()
				if m := leafRecv(t, onA); string(m.Data) != "from hub" {
					t.Fatalf("A got %q from the hub", m.Data)
				}
			})
		}
	}
}
