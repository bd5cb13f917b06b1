package broker_test

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/tcp"
)

// TestClientAdvertise: client_advertise replaces the bound address in the
// URLs the cluster learns (a bare host keeps the bound port), and
// cluster no_advertise tells the cluster none.
func TestClientAdvertise(t *testing.T) {
	o := testOptions()
	o.ClientAdvertise = "nats.example.com:4333"
	srv := startServer(t, o, nil)
	if got := srv.ClientURLs("10.0.0.1"); !slices.Equal(got, []string{"nats://nats.example.com:4333"}) {
		t.Errorf("host:port: %v", got)
	}
	o.ClientAdvertise = "edge.example.com"
	srv = startServer(t, o, nil)
	_, p, _ := net.SplitHostPort(srv.Addrs()["tcp"].String())
	if got := srv.ClientURLs("10.0.0.1"); !slices.Equal(got, []string{"nats://edge.example.com:" + p}) {
		t.Errorf("host: %v, want the bound port %s", got, p)
	}
	o.Cluster = &broker.ClusterOptions{Name: "c", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}, NoAdvertise: true}
	srv = startServer(t, o, nil)
	if got := srv.ClientURLs("10.0.0.1"); got != nil {
		t.Errorf("no_advertise: %v, want none", got)
	}
}

// TestMaxClosedClients: the closed-connection history keeps the newest
// max_closed_clients.
func TestMaxClosedClients(t *testing.T) {
	o := testOptions()
	o.MaxClosedClients = 2
	srv := startServer(t, o, nil)
	for _, name := range []string{"a", "b", "c"} {
		nc, err := nats.Connect(srv.ClientURL(), nats.Name(name))
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		want := name
		eventually(t, 5*time.Second, "closed "+name, func() bool {
			cs := srv.ClosedConnections()
			return len(cs) > 0 && cs[len(cs)-1].Name == want
		})
	}
	cs := srv.ClosedConnections()
	if len(cs) != 2 || cs[0].Name != "b" || cs[1].Name != "c" {
		t.Fatalf("closed %+v, want b and c", cs)
	}
}
