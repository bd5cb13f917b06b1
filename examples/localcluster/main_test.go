package main

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/testutil"
)

func TestMain(m *testing.M) { testutil.LeakCheckMain(m) }

func TestLayout(t *testing.T) {
	if Port(11000, groupGossip, 2) != 11012 || Port(11000, groupHTTP, 0) != 11030 {
		t.Fatal("layout is not base + group*10 + index")
	}
}

// TestDemoCluster runs the demo on a base the kernel shows free, so the
// layout itself is what is tested.
func TestDemoCluster(t *testing.T) {
	base := freeBase(t)
	nodes, err := start(3, base, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop(nodes)
	sub, err := nats.Connect(nodes[0].srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	s, _ := sub.SubscribeSync("demo.>")
	sub.Flush()
	pub, err := nats.Connect(nodes[2].srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	testutil.Eventually(t, 5*time.Second, "message across the demo cluster", func() bool {
		pub.Publish("demo.hello", []byte("hi"))
		_, err := s.NextMsg(20 * time.Millisecond)
		return err == nil
	})
}

// freeBase finds a base whose 40 layout ports are free (TCP and UDP).
func freeBase(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+40 > 65535 {
			continue
		}
		if allFree(base) {
			return base
		}
	}
	t.Skip("no free block of 40 ports")
	return 0
}

func allFree(base int) bool {
	for p := base; p < base+40; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", itoa(p)))
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

func itoa(p int) string { return strconv.Itoa(p) }
