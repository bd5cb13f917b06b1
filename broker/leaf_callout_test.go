package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// leafCallout is a callout service for the leaf tests: edge/pw (a leaf)
// lands in APP allowed to send up.> and take down.> (and inboxes),
// alice/secret (a client) in APP with no limits; anyone else is refused.
// It records the client_info kind of each user it was asked about.
type leafCallout struct {
	issuer nkeys.KeyPair
	mu     sync.Mutex
	kinds  map[string]string
}

func newLeafCallout(t *testing.T) *leafCallout {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	return &leafCallout{issuer: kp, kinds: map[string]string{}}
}

func (c *leafCallout) pub() string { p, _ := c.issuer.PublicKey(); return p }

func (c *leafCallout) kind(user string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[user]
}

// serve answers on a connection as the auth user at url.
func (c *leafCallout) serve(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo("auth", "pwd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	_, err = nc.Subscribe(broker.CalloutSubject, func(m *nats.Msg) {
		req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		o := req.ConnectOptions
		c.mu.Lock()
		c.kinds[o.Username] = req.ClientInformation.Kind
		c.mu.Unlock()
		resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
		resp.Audience = req.Server.ID
		uc := jwt.NewUserClaims(req.UserNkey)
		uc.Audience = "APP"
		switch {
		case o.Username == "edge" && o.Password == "pw":
			uc.Pub.Allow.Add("up.>", "_INBOX.>")
			uc.Sub.Allow.Add("down.>", "_INBOX.>")
		case o.Username == "alice" && o.Password == "secret":
		default:
			uc = nil
			resp.Error = "unknown user " + o.Username
		}
		if uc != nil {
			if resp.Jwt, err = uc.Encode(c.issuer); err != nil {
				t.Error(err)
			}
		}
		tok, err := resp.Encode(c.issuer)
		if err != nil {
			t.Error(err)
			return
		}
		_ = m.Respond([]byte(tok))
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startCalloutHub is our hub whose logins, leaves' too, go through c.
func startCalloutHub(t *testing.T, c *leafCallout) *broker.Server {
	t.Helper()
	o := testOptions()
	o.Auth = &broker.AuthOptions{
		Accounts: []broker.Account{{Name: "AUTH", Users: []broker.User{{Name: "auth", Password: "pwd"}}}, {Name: "APP"}},
		Callout:  &broker.AuthCallout{Issuer: c.pub(), Account: "AUTH", AuthUsers: []string{"auth"}},
	}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	c.serve(t, hub.ClientURL())
	return hub
}

// startNatsCalloutHub is nats-server configured the same.
func startNatsCalloutHub(t *testing.T, c *leafCallout) *natsProc {
	t.Helper()
	lp := testutil.FreePort(t)
	p := startNatsConf(t, fmt.Sprintf(`accounts { AUTH: { users: [ { user: auth, password: pwd } ] }, APP: {} }
authorization { auth_callout { issuer: %s, account: AUTH, auth_users: [ auth ] } }
leafnodes { listen: "127.0.0.1:%d" }`, c.pub(), lp))
	p.leafPort = lp
	c.serve(t, p.url())
	return p
}

// calloutExchange: the leaf's client sends up and takes down within the
// rules the callout gave the leaf, with alice on the hub in APP.
func calloutExchange(t *testing.T, hc, lc *nats.Conn, waitHub, waitLeaf func(string, []string, []string)) {
	t.Helper()
	lno, _ := lc.SubscribeSync("nope.x")
	ld, _ := lc.SubscribeSync("down.x")
	lc.Flush()
	hu, _ := hc.SubscribeSync("up.x")
	hc.Flush()
	waitHub("the hub has the leaf's interest", []string{"down.x"}, []string{"nope.x"})
	waitLeaf("the leaf has the hub's interest", []string{"up.x"}, nil)
	lc.Publish("up.x", []byte("up"))
	lc.Flush()
	if m := leafRecv(t, hu); string(m.Data) != "up" {
		t.Fatalf("up.x: %q", m.Data)
	}
	hc.Publish("nope.x", nil)
	hc.Publish("down.x", []byte("down"))
	hc.Flush()
	if m := leafRecv(t, ld); string(m.Data) != "down" {
		t.Fatalf("down.x: %q", m.Data)
	}
	leafNoMsg(t, lno)
}

// Ours to ours: the leaf's login goes through the callout (kind
// Leafnode), which binds it to APP with its permissions.
func TestLeafCalloutOurs(t *testing.T) {
	c := newLeafCallout(t)
	hub := startCalloutHub(t, c)
	leaf := startLeafOf(t, withUser(leafURL(hub), "edge", "pw"), nil)
	waitLeafs(t, hub, 1)
	waitLeafs(t, leaf, 1)
	if l := hub.Leafs(false)[0]; l.Account != "APP" || leaf.Leafs(false)[0].Remote != "APP" {
		t.Fatalf("bound to %q (the leaf was told %q), want APP", l.Account, leaf.Leafs(false)[0].Remote)
	}
	if k := c.kind("edge"); k != "Leafnode" {
		t.Fatalf("the callout was asked about a %q", k)
	}
	calloutExchange(t, login(t, hub, "alice", "secret"), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))
}

// A nats-server leaf through our hub's callout.
func TestLeafCalloutNatsServerLeaf(t *testing.T) {
	c := newLeafCallout(t)
	hub := startCalloutHub(t, c)
	leaf := startNats(t, false, fmt.Sprintf("remotes: [ { url: %q } ]\nreconnect: \"100ms\"", withUser(leafURL(hub), "edge", "pw")))
	waitLeafs(t, hub, 1)
	if l := hub.Leafs(false)[0]; l.Account != "APP" {
		t.Fatalf("bound to %q, want APP", l.Account)
	}
	calloutExchange(t, login(t, hub, "alice", "secret"), leaf.connect(), ourInterest(t, hub), leaf.waitInterest)
}

// Our leaf through nats-server's callout: nats-server asks about it as a
// Leafnode too, and binds it the same.
func TestLeafCalloutNatsServerHub(t *testing.T) {
	c := newLeafCallout(t)
	hub := startNatsCalloutHub(t, c)
	leaf := startLeafOf(t, withUser(hub.leafURL(), "edge", "pw"), nil)
	waitLeafs(t, leaf, 1)
	if r := leaf.Leafs(false)[0].Remote; r != "APP" {
		t.Fatalf("nats-server bound us to %q, want APP", r)
	}
	if k := c.kind("edge"); k != "Leafnode" {
		t.Fatalf("nats-server asked the callout about a %q", k)
	}
	calloutExchange(t, hub.connect(nats.UserInfo("alice", "secret")), connectTCP(t, leaf), hub.waitInterest, ourInterest(t, leaf))
}

// A leaf the callout refuses gets 'Authorization Violation'; one that
// logs in as an auth user bypasses the callout and lands in its account.
// Ours and nats-server's alike.
func TestLeafCalloutRefusedAndAuthUsers(t *testing.T) {
	c := newLeafCallout(t)
	ours := startCalloutHub(t, c)
	theirs := startNatsCalloutHub(t, c)
	for _, addr := range []string{ours.LeafAddr().String(), fmt.Sprintf("127.0.0.1:%d", theirs.leafPort)} {
		nc, r := rawDial(t, addr)
		nc.Write([]byte(`CONNECT {"user":"mallory","pass":"x"}` + "\r\n"))
		if line, err := r.ReadString('\n'); line != "-ERR 'Authorization Violation'\r\n" {
			t.Errorf("%s: refused leaf got %q %v", addr, line, err)
		}
		if k := c.kind("mallory"); k != "Leafnode" {
			t.Errorf("%s: the callout was asked about a %q", addr, k)
		}
		c.mu.Lock()
		delete(c.kinds, "mallory")
		c.mu.Unlock()
		_, _, _ = rawLeafAt(t, addr, `{"user":"auth","pass":"pwd"}`)
		if k := c.kind("auth"); k != "" {
			t.Errorf("%s: the callout was asked about an auth user", addr)
		}
	}
	leaf := startLeafOf(t, withUser(leafURL(ours), "auth", "pwd"), nil)
	waitLeafs(t, leaf, 1)
	testutil.Eventually(t, 5*time.Second, "the auth user's leaf is in AUTH", func() bool {
		for _, l := range ours.Leafs(false) {
			if l.Account == "AUTH" && l.Name == leaf.Name() {
				return true
			}
		}
		return false
	})
}
