package broker_test

import (
	"fmt"
	"testing"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// wsHub is a hub with leaf nodes and a WebSocket listener, where leaves
// connect with ws:// URLs.
func wsHub(t *testing.T) (*broker.Server, string) {
	t.Helper()
	return wsHubDeflate(t, false)
}

// Leaf connections over WebSocket: ours to ours, and with nats-server in
// both roles.
func TestLeafWebSocket(t *testing.T) {
	hub, url := wsHub(t)
	leaf := startLeafOf(t, url, nil)
	waitLeafs(t, leaf, 1)
	if ls := hub.Leafs(false); len(ls) != 1 {
		t.Fatalf("hub leafs: %+v", ls)
	}
	exercise(t, connectTCP(t, hub), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))

	// A nats-server leaf to our WebSocket port.
	theirLeaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q } ]\nreconnect: \"100ms\"", url))
	waitLeafs(t, hub, 2)
	theirLeaf.waitInterest("their leaf has the hub's interest", []string{"svc.hub"}, nil)

	// Our leaf to nats-server's WebSocket port.
	wsPort := testutil.FreePort(t)
	hubWS := startNatsConf(t, fmt.Sprintf("websocket { listen: \"127.0.0.1:%d\", no_tls: true }\nleafnodes { listen: \"127.0.0.1:%d\" }", wsPort, testutil.FreePort(t)))
	ours := startLeafOf(t, fmt.Sprintf("ws://127.0.0.1:%d", wsPort), nil)
	waitLeafs(t, ours, 1)
	exercise(t, hubWS.connect(), connectTCP(t, ours), hubWS.waitInterest, ourInterest(t, ours))
}
