package monitor_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/monitor"
)

// TestLeafz: /leafz lists a hub's leaf connection as nats-server does,
// with the peer's interest under subs=1, and /varz counts it.
func TestLeafz(t *testing.T) {
	o := broker.DefaultOptions()
	o.Host, o.Port, o.Name = "127.0.0.1", -1, "hub"
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := started(t, mustNew(t, o))
	t.Cleanup(func() { hub.Close() })
	lo := broker.DefaultOptions()
	lo.Host, lo.Port, lo.Name = "127.0.0.1", -1, "edge"
	lo.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{"nats://" + hub.LeafAddr().String()}}}}
	leaf := started(t, mustNew(t, lo))
	t.Cleanup(func() { leaf.Close() })
	nc, err := nats.Connect("nats://" + leaf.Addrs()["tcp"].String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SubscribeSync("edge.data")
	nc.Flush()
	m := startMonitor(t, hub, monitor.Config{})
	c := client(t)
	var lz monitor.Leafz
	testutil.Eventually(t, 5*time.Second, "the leaf and its interest in /leafz", func() bool {
		_, body := get(t, c, m, "/leafz?subs=1")
		lz = monitor.Leafz{}
		return json.Unmarshal(body, &lz) == nil && lz.NumLeafs == 1 && len(lz.Leafs[0].Subs) == 2
	})
	l := lz.Leafs[0]
	if l.Name != "edge" || l.IsSpoke || l.Account != "$G" || l.IP != "127.0.0.1" || l.Port == 0 || l.NumSubs != 2 {
		t.Fatalf("leaf: %+v", l)
	}
	if !strings.HasPrefix(l.Compression, "s2_") {
		t.Fatalf("compression %q: want the S2 level of the default s2_auto", l.Compression)
	}
	if !strings.HasPrefix(l.Subs[0], "$LDS.") || l.Subs[1] != "edge.data" {
		t.Fatalf("subs: %q", l.Subs)
	}
	_, body := get(t, c, m, "/leafz?acc=OTHER")
	if json.Unmarshal(body, &lz) != nil || lz.NumLeafs != 0 {
		t.Fatalf("acc filter: %s", body)
	}
	_, body = get(t, c, m, "/accstatz")
	var az monitor.AccountStatz
	if json.Unmarshal(body, &az) != nil || len(az.Accounts) != 1 || az.Accounts[0].Account != "$G" ||
		az.Accounts[0].LeafNodes != 1 || az.Accounts[0].TotalConns != 1 {
		t.Fatalf("accstatz: %s", body)
	}
	_, body = get(t, c, m, "/varz")
	var v struct {
		Leafs int                  `json:"leafnodes"`
		Leaf  monitor.LeafNodeVarz `json:"leaf"`
	}
	if json.Unmarshal(body, &v) != nil || v.Leafs != 1 || v.Leaf.Host != "127.0.0.1" || v.Leaf.Port == 0 || v.Leaf.AuthTimeout != 2 {
		t.Fatalf("varz leafnodes: %s", body)
	}
	// The leaf's /varz lists its remote, without credentials.
	lm := startMonitor(t, leaf, monitor.Config{})
	_, body = get(t, c, lm, "/varz")
	v.Leaf = monitor.LeafNodeVarz{}
	if json.Unmarshal(body, &v) != nil || len(v.Leaf.Remotes) != 1 || v.Leaf.Remotes[0].LocalAccount != "$G" ||
		v.Leaf.Remotes[0].URLs[0] != hub.LeafAddr().String() || v.Leaf.Port != 0 {
		t.Fatalf("leaf varz: %+v", v.Leaf)
	}
}

func mustNew(t *testing.T, o broker.Options) *broker.Server {
	t.Helper()
	s, err := broker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
