package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/jwt/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

const errMaxAccountConns = "maximum account active connections exceeded"

// logged reports whether any log entry of logs carries text in its
// message or fields.
func logged(logs *observer.ObservedLogs, text string) bool {
	for _, e := range logs.All() {
		if strings.Contains(e.Message, text) || strings.Contains(fmt.Sprint(e.ContextMap()), text) {
			return true
		}
	}
	return false
}

func observed(o *broker.Options) *observer.ObservedLogs {
	core, logs := observer.New(zap.InfoLevel)
	o.Logger = zap.New(core)
	return logs
}

// A configured account's limits.max_leafnodes, side by side with
// nats-server: the leaf past the limit gets the error in place of the
// second INFO and is closed; a slot freed is taken again.
func TestLeafLimitConfigAccount(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
		{Name: "A", Users: []broker.User{{Name: "leafa", Password: "p"}}, MaxLeafNodes: 1},
	}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	lp := testutil.FreePort(t)
	startNatsConf(t, fmt.Sprintf(`accounts { A: { users: [ { user: leafa, password: p } ], limits: { max_leafnodes: 1 } } }
leafnodes { listen: "127.0.0.1:%d" }`, lp))
	const connect = `{"user":"leafa","pass":"p","name":"raw"}`
	for _, addr := range []string{hub.LeafAddr().String(), fmt.Sprintf("127.0.0.1:%d", lp)} {
		first, _, _ := rawLeafAt(t, addr, connect)
		nc, r := rawDial(t, addr)
		nc.Write([]byte("CONNECT " + connect + "\r\n"))
		if line, err := r.ReadString('\n'); line != "-ERR '"+errMaxAccountConns+"'\r\n" {
			t.Fatalf("%s: the second leaf got %q %v", addr, line, err)
		}
		if _, err := r.ReadString('\n'); err == nil {
			t.Fatalf("%s: the refused leaf's connection stays open", addr)
		}
		first.Close()
		testutil.Eventually(t, 5*time.Second, "the freed slot is taken", func() bool {
			nc, r := rawDial(t, addr)
			defer nc.Close()
			nc.Write([]byte("CONNECT " + connect + "\r\n"))
			line, _ := r.ReadString('\n')
			return strings.HasPrefix(line, "INFO ")
		})
	}
}

// An account JWT's limits.leaf on our operator-mode hub and on
// nats-server's, with our leaves and nats-server's.
func TestLeafLimitJWT(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	acc := tr.account("EDGE", nil, func(ac *jwt.AccountClaims) { ac.Limits.LeafNodeConn = 1 })
	leafCreds := tr.user(acc, "leaf", nil, nil)

	// Our hub: one leaf of ours is in, a nats-server leaf is refused.
	o := testOptions()
	o.Auth = &broker.AuthOptions{Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: tr.resolver}, SystemAccount: sys.pub}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	startLeafOf(t, leafURL(hub), func(r *broker.RemoteLeaf) { r.Credentials = leafCreds })
	waitLeafs(t, hub, 1)
	theirLeaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, credentials: %q } ]\nreconnect: \"100ms\"", leafURL(hub), leafCreds))
	testutil.Eventually(t, 10*time.Second, "the nats-server leaf is refused", func() bool {
		return strings.Contains(theirLeaf.out.String(), errMaxAccountConns)
	})
	if n := hub.NumLeafs(); n != 1 {
		t.Fatalf("%d leaf connections, want 1", n)
	}

	// nats-server's hub: a nats-server leaf is in, ours is refused until
	// that one goes.
	theirHub, hubURL := startNatsOperatorHub(t, tr, sys, acc)
	first := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, credentials: %q } ]", hubURL, leafCreds))
	testutil.Eventually(t, 10*time.Second, "the nats-server leaf is in", func() bool { n, _ := theirHub.leafz(); return n == 1 })
	lo := testOptions()
	logs := observed(&lo)
	lo.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{hubURL}, Credentials: leafCreds}}, Reconnect: 200 * time.Millisecond}
	ours := startServer(t, lo, nil)
	testutil.Eventually(t, 10*time.Second, "our leaf is refused", func() bool { return logged(logs, errMaxAccountConns) })
	if ours.NumLeafs() != 0 {
		t.Fatal("our leaf is connected past the limit")
	}
	first.kill()
	waitLeafs(t, ours, 1)
}

// The leaf's own account limit: our leaf binds its remote to an account
// allowed no leaf connection and refuses the connection towards the hub,
// with nats-server's error, as nats-server's leaf does.
func TestLeafLimitLeafSide(t *testing.T) {
	hub := startNats(t, true, "")
	o := testOptions()
	o.Auth = &broker.AuthOptions{Accounts: []broker.Account{{Name: "L", Users: []broker.User{{Name: "l", Password: "p"}}, MaxLeafNodes: -1}}}
	o.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{hub.leafURL()}, Account: "L"}}, Reconnect: 200 * time.Millisecond}
	leaf := startServer(t, o, nil)
	testutil.Eventually(t, 10*time.Second, "the hub hears the refusal", func() bool {
		return strings.Contains(hub.out.String(), "Leafnode Error '"+errMaxAccountConns+"'")
	})
	if leaf.NumLeafs() != 0 {
		t.Fatal("our leaf is connected past its account's limit")
	}
}

// The limit holds across a cluster: a leaf on one broker fills the
// account's single slot for the other too; when that broker leaves, its
// count is forgotten.
func TestLeafLimitAcrossCluster(t *testing.T) {
	var hubs []*broker.Server
	for i := range 2 {
		o := testOptions()
		clusterOptions(&o, i)
		o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
			{Name: "A", Users: []broker.User{{Name: "leafa", Password: "p"}}, MaxLeafNodes: 1},
		}, Users: []broker.User{{Name: "g", Password: "p"}}}
		o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
		hub := startServer(t, o, nil)
		sys, err := hub.StartSystem(broker.SystemOptions{}) // the counts travel as system events
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sys.Close() })
		hubs = append(hubs, hub)
	}
	meshUp(t, hubs)
	// Broker 0 must know broker 1's interest in the counts (the system
	// account's, sent in the route's first interest) before its leaf
	// comes: a subscription made on broker 1 after it arriving on broker 0
	// proves that, the route carrying interest in order.
	marker, _ := connectTCP(t, hubs[1], nats.UserInfo("g", "p")).SubscribeSync("interest.marker")
	_ = marker
	eventually(t, 5*time.Second, "broker 0 has broker 1's interest", func() bool {
		return len(hubs[0].Mux().Match([]byte("interest.marker")).Plain) > 0
	})
	const connect = `{"user":"leafa","pass":"p","name":"raw"}`
	rawLeafAt(t, hubs[0].LeafAddr().String(), connect)
	eventually(t, 5*time.Second, "broker 1 learns broker 0's leaf", func() bool {
		for _, ai := range hubs[1].Accounts() {
			if ai.Name == "A" {
				return ai.RemoteLeafNodes == 1
			}
		}
		return false
	})
	nc, r := rawDial(t, hubs[1].LeafAddr().String())
	nc.Write([]byte("CONNECT " + connect + "\r\n"))
	if line, err := r.ReadString('\n'); line != "-ERR '"+errMaxAccountConns+"'\r\n" {
		t.Fatalf("a second leaf on the other broker got %q %v", line, err)
	}
	hubs[0].Close()
	eventually(t, 5*time.Second, "broker 0's leaf forgotten with its route", func() bool {
		nc, r := rawDial(t, hubs[1].LeafAddr().String())
		defer nc.Close()
		nc.Write([]byte("CONNECT " + connect + "\r\n"))
		line, _ := r.ReadString('\n')
		return strings.HasPrefix(line, "INFO ")
	})
}
