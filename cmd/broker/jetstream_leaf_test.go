package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

const jsLeafHubConf = `listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q, domain: hub }
leafnodes { listen: "127.0.0.1:LEAFPORT" }
`

const jsLeafConf = `listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q, domain: leaf }
leafnodes { remotes: [ { url: "nats://127.0.0.1:LEAFPORT" } ], reconnect: "200ms" }
`

// TestJetStreamStaysOnItsSideOfALeaf: a hub and its leaf each run
// JetStream in the same account. A leaf client's stream and key-value
// bucket are the leaf's alone (the hub's JetStream neither answers nor
// stores), the hub's are not seen from the leaf's own API, and the hub's
// JetStream is reached across the leaf through its domain. Murmur hub and
// leaf, nats-server hub and leaf, and a nats-server hub with a Murmur
// leaf behave alike.
func TestJetStreamStaysOnItsSideOfALeaf(t *testing.T) {
	for _, pair := range []struct{ hub, leaf string }{
		{testutil.BrokerBinary(t), testutil.BrokerBinary(t)},
		{testutil.NatsServer(t), testutil.NatsServer(t)},
		{testutil.NatsServer(t), testutil.BrokerBinary(t)},
	} {
		name := pairName(pair.hub) + " hub, " + pairName(pair.leaf) + " leaf"
		t.Run(name, func(t *testing.T) {
			lp := fmt.Sprint(testutil.FreePort(t))
			hub := startJSProc(t, pair.hub, strings.ReplaceAll(jsLeafHubConf, "LEAFPORT", lp), gossipOff(pair.hub)...)
			leaf := startJSProc(t, pair.leaf, strings.ReplaceAll(jsLeafConf, "LEAFPORT", lp), gossipOff(pair.leaf)...)
			hc, lc := connect(t, fmt.Sprintf("nats://127.0.0.1:%d", hub.port)), connect(t, fmt.Sprintf("nats://127.0.0.1:%d", leaf.port))
			c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			hjs, _ := njs.New(hc)
			ljs, _ := njs.New(lc)
			viaDomain, _ := njs.NewWithDomain(lc, "hub")
			// The leaf is up once the hub's domain answers from the leaf.
			testutil.Eventually(t, 10*time.Second, "the hub's domain reached from the leaf", func() bool {
				ai, err := viaDomain.AccountInfo(c)
				return err == nil && ai.Domain == "hub"
			})
			if _, err := ljs.CreateStream(c, njs.StreamConfig{Name: "L", Subjects: []string{"l.>"}}); err != nil {
				t.Fatalf("stream on the leaf: %v", err)
			}
			if _, err := hjs.CreateStream(c, njs.StreamConfig{Name: "H", Subjects: []string{"h.>"}}); err != nil {
				t.Fatalf("stream on the hub: %v", err)
			}
			if _, err := hjs.Stream(c, "L"); !errors.Is(err, njs.ErrStreamNotFound) {
				t.Errorf("the leaf's stream on the hub: %v, want not found", err)
			}
			for range 10 { // the leaf's JetStream answers alone
				if _, err := ljs.Stream(c, "H"); !errors.Is(err, njs.ErrStreamNotFound) {
					t.Fatalf("the hub's stream through the leaf's API: %v, want not found", err)
				}
			}
			if s, err := viaDomain.Stream(c, "H"); err != nil || s.CachedInfo().Config.Name != "H" {
				t.Errorf("the hub's stream through its domain: %v", err)
			}
			lkv, err := ljs.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "B"})
			if err != nil {
				t.Fatal(err)
			}
			hkv, err := hjs.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "B"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lkv.Put(c, "k", []byte("leaf")); err != nil {
				t.Fatal(err)
			}
			if _, err := hkv.Put(c, "k2", []byte("hub")); err != nil {
				t.Fatal(err)
			}
			if _, err := hkv.Get(c, "k"); !errors.Is(err, njs.ErrKeyNotFound) {
				t.Errorf("the leaf's key in the hub's bucket: %v, want not found", err)
			}
			if _, err := lkv.Get(c, "k2"); !errors.Is(err, njs.ErrKeyNotFound) {
				t.Errorf("the hub's key in the leaf's bucket: %v, want not found", err)
			}
			// Plain messages still cross.
			sub, _ := hc.SubscribeSync("plain")
			hc.Flush()
			testutil.Eventually(t, 5*time.Second, "a plain message crosses", func() bool {
				lc.Publish("plain", nil)
				_, err := sub.NextMsg(100 * time.Millisecond)
				return err == nil
			})
		})
	}
}

func pairName(bin string) string {
	if strings.Contains(bin, "nats-server") {
		return "nats-server"
	}
	return "Murmur"
}

// gossipOff is what keeps a Murmur broker's gossip off for a test.
func gossipOff(bin string) []string {
	if strings.Contains(bin, "nats-server") {
		return nil
	}
	return []string{"--gossip_port", "0"}
}
