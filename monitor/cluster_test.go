package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
	"github.com/murmurmq/murmur/transport/tcp"
)

// startPair starts two clustered brokers joined by one route.
func startPair(t *testing.T) (a, b *broker.Server) {
	t.Helper()
	srvs := make([]*broker.Server, 2)
	for i := range srvs {
		o := testOptions()
		o.Name = fmt.Sprintf("node-%c", 'a'+i)
		o.Cluster = &broker.ClusterOptions{Name: "east", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
		srv, err := broker.New(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		srvs[i] = srv
	}
	if err := srvs[0].ConnectRoute(context.Background(), srvs[1].RouteAddr().String()); err != nil {
		t.Fatalf("route: %v", err)
	}
	for _, s := range srvs {
		eventually(t, 5*time.Second, "the route", func() bool { return s.NumRoutes() == 1 })
	}
	return srvs[0], srvs[1]
}

// TestRoutezFromBroker: the broker is its own RouteProvider, so /routez
// and /varz show real routes without extra wiring.
func TestRoutezFromBroker(t *testing.T) {
	a, b := startPair(t)
	m := startMonitor(t, a, monitor.Config{})
	c := client(t)
	var rz monitor.Routez
	getJSON(t, c, m, "/routez", &rz)
	if rz.NumRoutes != 1 || rz.Routes[0].RemoteID != b.ID() || rz.Routes[0].RemoteName != "node-b" || !rz.Routes[0].DidSolicit || rz.Routes[0].IP != "127.0.0.1" {
		t.Fatalf("routez: %+v", rz.Routes)
	}
	var v monitor.Varz
	getJSON(t, c, m, "/varz", &v)
	_, port, _ := net.SplitHostPort(a.RouteAddr().String())
	if v.Routes != 1 || v.Remotes != 1 || v.Cluster.Name != "east" || strconv.Itoa(v.Cluster.Port) != port {
		t.Errorf("varz: routes %d remotes %d cluster %+v (route port %s)", v.Routes, v.Remotes, v.Cluster, port)
	}

	// Traffic over the route counts in a's out_msgs (as in nats-server,
	// where route sends are deliveries) and in the route's out_msgs.
	sub := connect(t, b)
	got := make(chan *nats.Msg, 100)
	if _, err := sub.ChanSubscribe("over.route", got); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "interest at a", func() bool { return a.Stats().Subscriptions == 1 })
	pub := connect(t, a)
	for range 100 {
		if err := pub.Publish("over.route", make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("message lost over the route")
		}
	}
	// The reader adds its batch to the server totals after handing the
	// messages on, so the totals can trail the delivery by a moment.
	eventually(t, 5*time.Second, "a's counters after 100 messages to b", func() bool {
		getJSON(t, c, m, "/varz", &v)
		getJSON(t, c, m, "/routez", &rz)
		return v.InMsgs == 100 && v.OutMsgs == 100 && len(rz.Routes) == 1 && rz.Routes[0].OutMsgs == 100
	})
	if v.OutBytes != 1000 || rz.Routes[0].OutBytes < 1000 {
		t.Errorf("out bytes: varz %d, routez %d; want 1000", v.OutBytes, rz.Routes[0].OutBytes)
	}
	// The client totals leave the route out: a's client sent 100 and
	// received none; b's route brought 100 its client received.
	if v.InClientMsgs != 100 || v.InClientBytes != 1000 || v.OutClientMsgs != 0 || v.OutClientBytes != 0 {
		t.Errorf("a's client totals: in %d/%d out %d/%d", v.InClientMsgs, v.InClientBytes, v.OutClientMsgs, v.OutClientBytes)
	}
	eventually(t, 5*time.Second, "b's client totals", func() bool {
		st := b.Stats()
		return st.InMsgs == 100 && st.ClientInMsgs == 0 && st.ClientOutMsgs == 100 && st.ClientOutBytes == 1000
	})
	// A closed client's counts stay in the client totals.
	pub.Close()
	eventually(t, 5*time.Second, "a to retire the publisher", func() bool { return a.Stats().Connections == 0 })
	if st := a.Stats(); st.ClientInMsgs != 100 || st.InMsgs != 100 {
		t.Errorf("after close: in %d, client in %d; want 100 and 100", st.InMsgs, st.ClientInMsgs)
	}
}

// TestSystemPingAnsweredByEveryBroker: a PING sent to one broker is
// answered by both, because the responder's interest crosses routes.
func TestSystemPingAnsweredByEveryBroker(t *testing.T) {
	a, b := startPair(t)
	for _, s := range []*broker.Server{a, b} {
		m, err := monitor.New(monitor.Config{Broker: s})
		if err != nil {
			t.Fatal(err)
		}
		startSystem(t, s, m)
	}
	nc := connectSys(t, a)
	// B's responder interest must reach A: until then only A answers.
	eventually(t, 5*time.Second, "answers from node-a and node-b", func() bool {
		seen := pingAll(t, nc)
		return seen["node-a"] && seen["node-b"]
	})
	// The per-server subject of B, asked through A.
	r := request(t, nc, "$SYS.REQ.SERVER."+b.ID()+".VARZ", "")
	var v monitor.Varz
	if err := json.Unmarshal(r.Data, &v); err != nil || v.Name != "node-b" || v.Cluster.Name != "east" {
		t.Errorf("b's VARZ through a: %v %+v", err, v)
	}
	// And the real CLI sees the whole cluster through one broker.
	t.Run("nats CLI", func(t *testing.T) {
		run := natsCLI(t, a)
		if out := run("server", "ping", "2"); !strings.Contains(out, "node-a") || !strings.Contains(out, "node-b") || strings.Contains(out, "Missing") {
			t.Errorf("nats server ping 2:\n%s", out)
		}
		if out := run("server", "list", "2"); !strings.Contains(out, "node-a") || !strings.Contains(out, "node-b") {
			t.Errorf("nats server list 2:\n%s", out)
		}
	})
}

// pingAll sends $SYS.REQ.SERVER.PING and collects the answering servers'
// names until none arrives for 500 ms.
func pingAll(t *testing.T, nc *nats.Conn) map[string]bool {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING", inbox, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for {
		msg, err := sub.NextMsg(500 * time.Millisecond)
		if err != nil {
			return seen
		}
		var r sysResponse
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatal(err)
		}
		seen[r.Server.Name] = true
	}
}
