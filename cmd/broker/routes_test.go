package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestRoutesOnlyCluster: three brokers configured as nats-server's docs
// lay a cluster out, each naming only the seed in cluster.routes (the seed
// names itself), with no gossip block: they run no gossip (three on one
// host would collide on its default port otherwise), learn each other
// from the seed (implicit routes) and carry a message between the two
// that were never told of each other, one hop.
func TestRoutesOnlyCluster(t *testing.T) {
	dir := t.TempDir()
	seed := testutil.FreePort(t)
	var urls []string
	for i := range 3 {
		client, route := testutil.FreePort(t), seed
		if i > 0 {
			route = testutil.FreePort(t)
		}
		conf := fmt.Sprintf("port: %d\nhttp_port: %d\ncluster {\n  name: routes_only\n  listen: 127.0.0.1:%d\n  routes: [ nats-route://127.0.0.1:%d ]\n}\n",
			client, testutil.FreePort(t), route, seed)
		path := filepath.Join(dir, fmt.Sprintf("b%d.conf", i))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		startBroker(t, "-c", path)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", client))
	}
	crosses(t, urls[1], urls[2])
	crosses(t, urls[2], urls[1])
}
