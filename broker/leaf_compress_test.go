package broker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

// leafCompressCases are the mode combinations that matter: the hub's and
// the leaf's configured compression (nats-server config values) and what
// each side's /leafz then shows. "auto" is any S2 level (s2_auto picks
// one by round-trip time, which a shared machine does not fix).
var leafCompressCases = []struct {
	name, hub, leaf   string
	wantHub, wantLeaf string
	hubRTTs, leafRTTs string // s2_auto thresholds (nats-server syntax), if any
}{
	{name: "off-hub/s2_fast-leaf", hub: "off", leaf: "s2_fast", wantHub: "off", wantLeaf: "off"},
	{name: "s2_fast-hub/off-leaf", hub: "s2_fast", leaf: "off", wantHub: "off", wantLeaf: "off"},
	{name: "accept-hub/s2_best-leaf", hub: "accept", leaf: "s2_best", wantHub: "s2_best", wantLeaf: "s2_best"},
	{name: "s2_best-hub/accept-leaf", hub: "s2_best", leaf: "accept", wantHub: "s2_best", wantLeaf: "s2_best"},
	// A hub that acts as a server from before compression (no
	// compression in its INFO).
	{name: "old-hub/s2_fast-leaf", hub: "not supported", leaf: "s2_fast", wantHub: "not supported", wantLeaf: "not supported"},
	{name: "accept-both", hub: "accept", leaf: "accept", wantHub: "off", wantLeaf: "off"},
	{name: "s2_fast-hub/s2_better-leaf", hub: "s2_fast", leaf: "s2_better", wantHub: "s2_fast", wantLeaf: "s2_better"},
	{name: "s2_auto-both", hub: "s2_auto", leaf: "s2_auto", wantHub: "auto", wantLeaf: "auto"},
	{name: "accept-hub/s2_auto-leaf", hub: "accept", leaf: "s2_auto", wantHub: "s2_fast", wantLeaf: "auto"},
	// Thresholds that pin the level whatever the round trip: [0, 1h]
	// is s2_fast up to an hour.
	{name: "s2_auto-pinned", hub: "s2_auto", leaf: "s2_auto", hubRTTs: `"0s", "1h"`, leafRTTs: `"1h"`, wantHub: "s2_fast", wantLeaf: "s2_uncompressed"},
}

// ourCompression is a case's mode as our options.
func ourCompression(t *testing.T, mode, rtts string) broker.LeafCompression {
	t.Helper()
	var th []time.Duration
	for _, s := range strings.Split(rtts, ",") {
		if s = strings.Trim(strings.TrimSpace(s), `"`); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatal(err)
			}
			th = append(th, d)
		}
	}
	c, err := broker.ParseLeafCompression(mode, th)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// natsCompression is a case's mode as nats-server config.
func natsCompression(mode, rtts string) string {
	if rtts == "" {
		return fmt.Sprintf("compression: %q", mode)
	}
	return fmt.Sprintf("compression: { mode: %q, rtt_thresholds: [%s] }", mode, rtts)
}

// natsLeafCompression is the compression of nats-server's leaf
// connections, from its /leafz.
func (p *natsProc) leafCompression() []string {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/leafz", p.monitorPort))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var doc struct {
		Leafs []struct {
			Compression string `json:"compression"`
		} `json:"leafs"`
	}
	if json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return nil
	}
	var out []string
	for _, l := range doc.Leafs {
		out = append(out, l.Compression)
	}
	return out
}

func ourLeafCompression(s *broker.Server) func() []string {
	return func() []string {
		var out []string
		for _, l := range s.Leafs(false) {
			out = append(out, l.Compression)
		}
		return out
	}
}

// waitCompression waits until side has one leaf connection, at want.
func waitCompression(t *testing.T, side, want string, list func() []string) {
	t.Helper()
	var got []string
	ok := func() bool {
		got = list()
		if len(got) != 1 {
			return false
		}
		if want == "auto" {
			return slices.Contains([]string{"s2_uncompressed", "s2_fast", "s2_better", "s2_best"}, got[0])
		}
		return got[0] == want
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: compression %q, want %q", side, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// compressTraffic sends, both ways across the leaf connection, a 900 KB
// message with headers (half text, half noise) and then 2000 small ones,
// and checks every byte and the order.
func compressTraffic(t *testing.T, hc, lc *nats.Conn, waitHub, waitLeaf func(string, []string, []string)) {
	t.Helper()
	hs, _ := hc.SubscribeSync("up.>")
	ls, _ := lc.SubscribeSync("down.>")
	hc.Flush()
	lc.Flush()
	waitHub("the hub has down.>", []string{"down.>"}, nil)
	waitLeaf("the leaf has up.>", []string{"up.>"}, nil)
	big := make([]byte, 900*1024)
	copy(big, strings.Repeat("leaf node compression ", len(big)/44))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(big) / 2; i < len(big); i++ {
		big[i] = byte(rng.Uint32())
	}
	const small = 2000
	for _, d := range []struct {
		name string
		pub  *nats.Conn
		sub  *nats.Subscription
		pre  string
	}{{"leaf -> hub", lc, hs, "up."}, {"hub -> leaf", hc, ls, "down."}} {
		m := nats.NewMsg(d.pre + "big")
		m.Header.Set("Size", fmt.Sprint(len(big)))
		m.Data = big
		if err := d.pub.PublishMsg(m); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		for i := range small {
			d.pub.Publish(fmt.Sprintf("%ssmall.%d", d.pre, i), []byte(fmt.Sprint("m", i)))
		}
		d.pub.Flush()
		got := leafRecv(t, d.sub)
		if got.Subject != d.pre+"big" || !bytes.Equal(got.Data, big) || got.Header.Get("Size") != fmt.Sprint(len(big)) {
			t.Fatalf("%s: big message: %s, %d bytes, header %v", d.name, got.Subject, len(got.Data), got.Header)
		}
		for i := range small {
			got := leafRecv(t, d.sub)
			if want := fmt.Sprint("m", i); got.Subject != fmt.Sprintf("%ssmall.%d", d.pre, i) || string(got.Data) != want {
				t.Fatalf("%s: message %d: %s %q", d.name, i, got.Subject, got.Data)
			}
		}
	}
}

// Ours to ours: each combination negotiates as nats-server's would and
// carries the traffic.
func TestLeafCompressionOurs(t *testing.T) {
	for _, c := range leafCompressCases {
		t.Run(c.name, func(t *testing.T) {
			hub := startHub(t, func(o *broker.LeafNodeOptions) { o.Compression = ourCompression(t, c.hub, c.hubRTTs) })
			leaf := startLeafOf(t, leafURL(hub), func(r *broker.RemoteLeaf) { r.Compression = ourCompression(t, c.leaf, c.leafRTTs) })
			waitCompression(t, "hub", c.wantHub, ourLeafCompression(hub))
			waitCompression(t, "leaf", c.wantLeaf, ourLeafCompression(leaf))
			compressTraffic(t, connectTCP(t, hub), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))
		})
	}
}

// Our hub, a nats-server 2.15 leaf.
func TestLeafCompressionNatsServerLeaf(t *testing.T) {
	for _, c := range leafCompressCases {
		t.Run(c.name, func(t *testing.T) {
			hub := startHub(t, func(o *broker.LeafNodeOptions) { o.Compression = ourCompression(t, c.hub, c.hubRTTs) })
			leaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, %s } ]\nreconnect: \"100ms\"", leafURL(hub), natsCompression(c.leaf, c.leafRTTs)))
			waitCompression(t, "our hub", c.wantHub, ourLeafCompression(hub))
			waitCompression(t, "nats-server leaf", c.wantLeaf, leaf.leafCompression)
			compressTraffic(t, connectTCP(t, hub), leaf.connect(), ourInterest(t, hub), leaf.waitInterest)
		})
	}
}

// A nats-server 2.15 hub, our leaf.
func TestLeafCompressionNatsServerHub(t *testing.T) {
	for _, c := range leafCompressCases {
		t.Run(c.name, func(t *testing.T) {
			hub := startNats(t, true, natsCompression(c.hub, c.hubRTTs))
			leaf := startLeafOf(t, hub.leafURL(), func(r *broker.RemoteLeaf) { r.Compression = ourCompression(t, c.leaf, c.leafRTTs) })
			waitCompression(t, "nats-server hub", c.wantHub, hub.leafCompression)
			waitCompression(t, "our leaf", c.wantLeaf, ourLeafCompression(leaf))
			compressTraffic(t, hub.connect(), connectTCP(t, leaf), hub.waitInterest, ourInterest(t, leaf))
		})
	}
}

// The defaults on both sides are nats-server's s2_auto.
func TestLeafCompressionDefault(t *testing.T) {
	hub := startNats(t, true, "")
	leaf := startLeafOf(t, hub.leafURL(), nil)
	waitCompression(t, "nats-server hub", "auto", hub.leafCompression)
	waitCompression(t, "our leaf", "auto", ourLeafCompression(leaf))
}

// wsHubDeflate is wsHub with permessage-deflate on its WebSocket
// listener when deflate is set.
func wsHubDeflate(t *testing.T, deflate bool) (*broker.Server, string) {
	t.Helper()
	tr, err := ws.New(ws.Config{Compression: deflate})
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Listeners = []broker.Listener{{Transport: tr, Addr: "127.0.0.1:0"}, {Transport: tcp.New(), Addr: "127.0.0.1:0"}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	return hub, "ws://" + hub.Addrs()[ws.Name].String()
}

// Leaf connections over WebSocket, as nats-server's: S2 inside the
// WebSocket frames (s2_auto by default) unless the leaf asked for
// permessage-deflate (ws_compression) and the hub's WebSocket listener
// took it; then S2 is off. Ours to ours and with nats-server both ways.
func TestLeafCompressionWebSocket(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		want := "auto"
		if deflate {
			want = "off"
		}
		t.Run(fmt.Sprint("deflate=", deflate), func(t *testing.T) {
			t.Run("ours", func(t *testing.T) {
				hub, url := wsHubDeflate(t, deflate)
				leaf := startLeafOf(t, url, func(r *broker.RemoteLeaf) { r.WSCompression = deflate })
				waitCompression(t, "hub", want, ourLeafCompression(hub))
				waitCompression(t, "leaf", want, ourLeafCompression(leaf))
				compressTraffic(t, connectTCP(t, hub), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))
			})
			t.Run("nats-server-leaf", func(t *testing.T) {
				hub, url := wsHubDeflate(t, deflate)
				leaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, ws_compression: %v } ]\nreconnect: \"100ms\"", url, deflate))
				waitCompression(t, "our hub", want, ourLeafCompression(hub))
				waitCompression(t, "nats-server leaf", want, leaf.leafCompression)
				compressTraffic(t, connectTCP(t, hub), leaf.connect(), ourInterest(t, hub), leaf.waitInterest)
			})
			t.Run("nats-server-hub", func(t *testing.T) {
				wsPort := testutil.FreePort(t)
				hub := startNatsConf(t, fmt.Sprintf("websocket { listen: \"127.0.0.1:%d\", no_tls: true, compression: %v }\nleafnodes { listen: \"127.0.0.1:%d\" }", wsPort, deflate, testutil.FreePort(t)))
				leaf := startLeafOf(t, fmt.Sprintf("ws://127.0.0.1:%d", wsPort), func(r *broker.RemoteLeaf) { r.WSCompression = deflate })
				waitCompression(t, "nats-server hub", want, hub.leafCompression)
				waitCompression(t, "our leaf", want, ourLeafCompression(leaf))
				compressTraffic(t, hub.connect(), connectTCP(t, leaf), hub.waitInterest, ourInterest(t, leaf))
			})
		})
	}
}
