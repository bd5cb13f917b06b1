package broker_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// rawLeaf dials a hub's leaf port and returns the connection and a
// reader past the hub's first INFO.
func rawLeaf(t *testing.T, hub *broker.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", hub.LeafAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO {") || !strings.Contains(line, `"leafnode_urls":[`) || !strings.Contains(line, `"client_id":`) {
		t.Fatalf("first INFO: %q %v", line, err)
	}
	return nc, r
}

// The hub's refusals, as nats-server's texts.
func TestLeafHandshakeRefusals(t *testing.T) {
	hub := startHub(t, nil)
	for _, tc := range []struct{ send, want string }{
		{`CONNECT {"lang":"go","version":"1.41"}` + "\r\n", "-ERR 'attempted to connect to leaf node port'\r\n"},
		{"PUB foo 1\r\nx\r\n", "-ERR 'Authorization Violation'\r\n"},
		{`CONNECT {"user":"x"` + "\r\n", "-ERR 'Authorization Violation'\r\n"},
	} {
		nc, r := rawLeaf(t, hub)
		if _, err := nc.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); line != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.send, line, err, tc.want)
		}
	}
	cluster := testOptions()
	clusterOptions(&cluster, 0)
	cluster.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	named := startServer(t, cluster, nil)
	nc, r := rawLeaf(t, named)
	nc.Write([]byte(`CONNECT {"cluster":"test"}` + "\r\n"))
	if line, _ := r.ReadString('\n'); line != "-ERR 'remote leafnode has same cluster name'\r\n" {
		t.Errorf("same cluster: %q", line)
	}
}

// A leaf that stops answering PINGs is closed as stale and counted so.
func TestLeafStale(t *testing.T) {
	o := testOptions()
	o.PingInterval, o.PingMax = 100*time.Millisecond, 2
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	nc, r := rawLeaf(t, hub)
	nc.Write([]byte(`CONNECT {"name":"mute","headers":true}` + "\r\n"))
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, `"connect_info":true`) || !strings.Contains(line, `"remote_account":"$G"`) {
		t.Fatalf("second INFO: %q %v", line, err)
	}
	if line, _ = r.ReadString('\n'); !strings.HasPrefix(line, "LS+ $LDS.") {
		t.Fatalf("want the hub's loop detection subject, got %q", line)
	}
	waitLeafs(t, hub, 1)
	eventually(t, 5*time.Second, "the mute leaf closed as stale", func() bool {
		st := hub.Stats()
		return hub.NumLeafs() == 0 && st.StaleLeafs == 1
	})
}
