package broker_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// The leaf logs into its hub as "leaf", whose permissions bound what
// crosses: it may publish (send up) up.> and inboxes, and subscribe to
// (take down) down.> and inboxes but down.secret. Its remote adds
// deny_imports down.skip and up.imp, deny_exports up.hidden.
var leafPermUser = broker.User{Name: "leaf", Password: "p", Permissions: &broker.Permissions{
	Publish:   broker.SubjectRules{Allow: []string{"up.>", "_INBOX.>"}},
	Subscribe: broker.SubjectRules{Allow: []string{"down.>", "_INBOX.>"}, Deny: []string{"down.secret"}},
}}

const natsLeafPermAuth = `authorization { users: [
  { user: leaf, password: p, permissions: {
      publish: { allow: ["up.>", "_INBOX.>"] },
      subscribe: { allow: ["down.>", "_INBOX.>"], deny: ["down.secret"] } } },
  { user: app, password: p } ] }
`

var (
	leafPermDenyImports = []string{"down.skip", "up.imp"}
	leafPermDenyExports = []string{"up.hidden"}
)

// startPermHub is our hub with the leaf user and a client user app.
func startPermHub(t *testing.T) *broker.Server {
	t.Helper()
	o := testOptions()
	o.Auth = &broker.AuthOptions{Users: []broker.User{leafPermUser, {Name: "app", Password: "p"}}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	return startServer(t, o, nil)
}

// startNatsPermHub is a nats-server hub with the same users.
func startNatsPermHub(t *testing.T) *natsProc {
	t.Helper()
	leafPort := testutil.FreePort(t)
	p := startNatsConf(t, natsLeafPermAuth+fmt.Sprintf("leafnodes { listen: 127.0.0.1:%d }\n", leafPort))
	p.leafPort = leafPort
	return p
}

func withUser(raw, user, pass string) string {
	u, _ := url.Parse(raw)
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// startPermLeaf is our leaf of hub (a leaf node URL) as the leaf user.
func startPermLeaf(t *testing.T, hubURL string) *broker.Server {
	return startLeafOf(t, withUser(hubURL, "leaf", "p"), func(r *broker.RemoteLeaf) {
		r.DenyImports, r.DenyExports = leafPermDenyImports, leafPermDenyExports
	})
}

// startNatsPermLeaf is a nats-server leaf of hub with the same remote.
func startNatsPermLeaf(t *testing.T, hubURL string) *natsProc {
	return startNats(t, false, fmt.Sprintf("remotes: [ { url: %q, deny_imports: [\"down.skip\", \"up.imp\"], deny_exports: [\"up.hidden\"] } ]\nreconnect: \"100ms\"",
		withUser(hubURL, "leaf", "p")))
}

// exercisePerms checks what crosses the leaf connection both ways, hc on
// the hub and lc on the leaf; waitHub and waitLeaf wait on the interest
// each side holds from the other; stable reports the id of the leaf
// connection on our side of it, which must not change (no violation closed
// it). With ourLeaf, a message on up.imp (in deny_imports) goes up: a
// nats-server leaf holds it back too once any wildcard interest it sent
// overlaps a deny_imports entry (its delivery-time deny filter), which
// Murmur does not copy.
func exercisePerms(t *testing.T, hc, lc *nats.Conn, waitHub, waitLeaf func(string, []string, []string), stable func() uint64, ourLeaf bool) {
	t.Helper()
	cid := stable()
	// Literal subscriptions the leaf may not take are never told to the
	// hub (which would close the connection for them). Made first, so
	// when the last one is seen at the hub the others would be too.
	lno, _ := lc.SubscribeSync("nope.x")
	lsecret, _ := lc.SubscribeSync("down.secret")
	lskip, _ := lc.SubscribeSync("down.skip")
	lc.Subscribe("down.svc.x", func(m *nats.Msg) { m.Respond([]byte("leaf:" + string(m.Data))) })
	ldown, _ := lc.SubscribeSync("down.*")
	lc.Flush()
	hother, _ := hc.SubscribeSync("other.x")
	hhidden, _ := hc.SubscribeSync("up.hidden")
	himp, _ := hc.SubscribeSync("up.imp")
	hc.Subscribe("up.svc", func(m *nats.Msg) { m.Respond([]byte("hub:" + string(m.Data))) })
	hup, _ := hc.SubscribeSync("up.x")
	hc.Flush()
	waitHub("the hub has the leaf's permitted interest", []string{"down.*", "down.svc.x"},
		[]string{"nope.x", "down.secret", "down.skip"})
	// up.imp crosses: deny_imports holds back what comes down, not the
	// hub's interest in what the leaf sends up.
	waitLeaf("the leaf has the hub's permitted interest", []string{"up.x", "up.svc", "up.imp"},
		[]string{"other.x", "up.hidden"})

	// Down: the user's subscribe rules and deny_imports.
	for _, s := range []string{"down.secret", "down.skip", "nope.x", "down.a"} {
		hc.Publish(s, []byte(s))
	}
	hc.Flush()
	if m := leafRecv(t, ldown); m.Subject != "down.a" {
		t.Fatalf("down.*: got %s first", m.Subject)
	}
	// Up: the user's publish rules and deny_exports.
	for _, s := range []string{"other.x", "up.hidden", "up.imp", "up.x"} {
		lc.Publish(s, []byte(s))
	}
	lc.Flush()
	if m := leafRecv(t, hup); string(m.Data) != "up.x" {
		t.Fatalf("up.x: %q", m.Data)
	}
	if ourLeaf {
		if m := leafRecv(t, himp); string(m.Data) != "up.imp" {
			t.Fatalf("up.imp: %q", m.Data)
		}
	}
	// Requests both ways; the replies go to inboxes both rules allow.
	if r, err := lc.Request("up.svc", []byte("1"), 5*time.Second); err != nil || string(r.Data) != "hub:1" {
		t.Fatalf("leaf -> hub request: %v %v", r, err)
	}
	if r, err := hc.Request("down.svc.x", []byte("2"), 5*time.Second); err != nil || string(r.Data) != "leaf:2" {
		t.Fatalf("hub -> leaf request: %v %v", r, err)
	}
	for _, s := range []*nats.Subscription{lno, lsecret, lskip, hother, hhidden} {
		leafNoMsg(t, s)
	}
	leafNoMsg(t, ldown)
	if got := stable(); got != cid {
		t.Fatalf("the leaf connection was replaced (%d, now %d): a violation closed it", cid, got)
	}
}

// ourLeafCID is the id of s's one leaf connection (0: none).
func ourLeafCID(s *broker.Server) func() uint64 {
	return func() uint64 {
		if ls := s.Leafs(false); len(ls) == 1 {
			return ls[0].CID
		}
		return 0
	}
}

// Ours to ours.
func TestLeafPermsOurs(t *testing.T) {
	hub := startPermHub(t)
	leaf := startPermLeaf(t, leafURL(hub))
	waitLeafs(t, leaf, 1)
	exercisePerms(t, login(t, hub, "app", "p"), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf), ourLeafCID(hub), true)
}

// A nats-server leaf, our hub.
func TestLeafPermsNatsServerLeaf(t *testing.T) {
	hub := startPermHub(t)
	leaf := startNatsPermLeaf(t, leafURL(hub))
	waitLeafs(t, hub, 1)
	exercisePerms(t, login(t, hub, "app", "p"), leaf.connect(), ourInterest(t, hub), leaf.waitInterest, ourLeafCID(hub), false)
}

// Our leaf, a nats-server hub: the leaf honours the INFO's import and
// export (nats-server's hub tells of interest the leaf may not serve,
// and closes the connection for interest or messages it may not take).
func TestLeafPermsNatsServerHub(t *testing.T) {
	hub := startNatsPermHub(t)
	leaf := startPermLeaf(t, hub.leafURL())
	waitLeafs(t, leaf, 1)
	exercisePerms(t, hub.connect(nats.UserInfo("app", "p")), connectTCP(t, leaf), hub.waitInterest, ourInterest(t, leaf), ourLeafCID(leaf), true)
}

// rawLeafAt dials a leaf port, reads the first INFO and logs in with
// connect; it returns the second INFO's import and export.
func rawLeafAt(t *testing.T, addr, connect string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	nc, r := rawDial(t, addr)
	nc.Write([]byte("CONNECT " + connect + "\r\n"))
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("second INFO: %q %v", line, err)
	}
	var info struct {
		Import, Export json.RawMessage
	}
	if err := json.Unmarshal([]byte(line[5:]), &info); err != nil {
		t.Fatal(err)
	}
	return nc, r, fmt.Sprintf("import=%s export=%s", info.Import, info.Export)
}

// rawDial dials a leaf port and reads past the first INFO.
func rawDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first INFO: %q %v", line, err)
	}
	return nc, r
}

// untilErrOrPong sends send then PING and returns the first -ERR line,
// or "PONG" when none came first.
func untilErrOrPong(t *testing.T, nc net.Conn, r *bufio.Reader, send string) string {
	t.Helper()
	nc.Write([]byte(send + "PING\r\n"))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "EOF"
		}
		switch {
		case strings.HasPrefix(line, "-ERR"):
			return strings.TrimSpace(line)
		case line == "PONG\r\n":
			return "PONG"
		}
	}
}

// A raw leaf that breaks its user's rules against our hub and a
// nats-server hub: the same INFO, the same refusals.
func TestLeafPermsRawSideBySide(t *testing.T) {
	ours := startPermHub(t).LeafAddr().String()
	theirs := fmt.Sprintf("127.0.0.1:%d", startNatsPermHub(t).leafPort)
	const connect = `{"user":"leaf","pass":"p","name":"raw","headers":true,"deny_pub":["down.skip"]}`
	cases := []struct{ send, want string }{
		{"LS+ down.*\r\nLS+ nope.*\r\nLS+ _INBOX.x\r\nLMSG up.a 1\r\nx\r\nLMSG _INBOX.y 1\r\nx\r\n", "PONG"},
		{"LS+ nope.x\r\n", `-ERR 'Permissions Violation for Subscription to "nope.x"'`},
		{"LS+ down.secret\r\n", `-ERR 'Permissions Violation for Subscription to "down.secret"'`},
		{"LS+ down.skip\r\n", `-ERR 'Permissions Violation for Subscription to "down.skip"'`},
		{"LMSG other.x 1\r\nx\r\n", `-ERR 'Permissions Violation for Publish to "other.x"'`},
		{"HMSG down.a 12 13\r\nNATS/1.0\r\n\r\nx\r\n", `-ERR 'Permissions Violation for Publish to "down.a"'`},
	}
	for _, tc := range cases {
		var got [2]string
		var infos [2]string
		for i, addr := range []string{ours, theirs} {
			nc, r, info := rawLeafAt(t, addr, connect)
			infos[i] = info
			got[i] = untilErrOrPong(t, nc, r, tc.send)
			if got[i] != "PONG" && got[i] != "EOF" {
				// The connection closes after the -ERR.
				for {
					_, err := r.ReadString('\n')
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Errorf("%q: %s left the connection open", tc.send, addr)
					}
					if err != nil {
						break
					}
				}
			}
		}
		if got[0] != tc.want || got[1] != tc.want {
			t.Errorf("%q: ours %q, nats-server %q, want %q", tc.send, got[0], got[1], tc.want)
		}
		if infos[0] != infos[1] {
			t.Errorf("INFO: ours %s, nats-server %s", infos[0], infos[1])
		}
	}
}

// allow_responses on our hub: the leaf may answer a request it was sent
// (once, by default) though its publish rules refuse the reply subject.
// (nats-server tracks such replies only where the user's subscribe rules
// refuse the reply subject, so no side-by-side here.)
func TestLeafPermsAllowResponses(t *testing.T) {
	o := testOptions()
	o.Auth = &broker.AuthOptions{Users: []broker.User{
		{Name: "leaf", Password: "p", Permissions: &broker.Permissions{
			Publish: broker.SubjectRules{Allow: []string{"up.>"}}, Response: &broker.ResponsePermission{}}},
		{Name: "app", Password: "p"},
	}}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	nc, r, _ := rawLeafAt(t, hub.LeafAddr().String(), `{"user":"leaf","pass":"p"}`)
	if got := untilErrOrPong(t, nc, r, "LS+ svc\r\n"); got != "PONG" {
		t.Fatal(got)
	}
	waitLeafSubs(t, hub, "the raw leaf's interest", 1)
	hc := login(t, hub, "app", "p")
	replies, _ := hc.SubscribeSync("reply.me")
	hc.PublishRequest("svc", "reply.me", []byte("q"))
	hc.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "LMSG svc reply.me") {
			break
		}
	}
	if got := untilErrOrPong(t, nc, r, "LMSG reply.me 1\r\na\r\n"); got != "PONG" {
		t.Fatalf("the reply: %s", got)
	}
	if m := leafRecv(t, replies); string(m.Data) != "a" {
		t.Fatalf("reply: %q", m.Data)
	}
	if got := untilErrOrPong(t, nc, r, "LMSG reply.me 1\r\nb\r\n"); got != `-ERR 'Permissions Violation for Publish to "reply.me"'` {
		t.Fatalf("a second reply: %s", got)
	}
}
