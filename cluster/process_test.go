package cluster_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
)

// These tests run brokers as separate processes of the real binary, so one
// can be killed with SIGKILL: no leave, no goodbye, sockets reset by the
// kernel.

func TestKillBrokerProcess(t *testing.T) {
	p0 := testutil.StartProc(t, "p0", "proc", nil)
	seed := []string{fmt.Sprintf("127.0.0.1:%d", p0.GossipPort)}
	p1 := testutil.StartProc(t, "p1", "proc", seed)
	p2 := testutil.StartProc(t, "p2", "proc", seed)
	procs := []*testutil.Proc{p0, p1, p2}

	dial := func(p *testutil.Proc, opts ...nats.Option) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect(p.URL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// The mesh is up when a message published on each broker reaches a
	// subscriber on every other.
	probe := dial(p0)
	ps, _ := probe.SubscribeSync("probe")
	probe.Flush()
	for _, p := range procs[1:] {
		nc := dial(p)
		eventually(t, 10*time.Second, "route to "+p.Name, func() bool {
			nc.Publish("probe", nil)
			_, err := ps.NextMsg(20 * time.Millisecond)
			return err == nil
		})
	}

	// A client on the victim that must move to a survivor, learning the
	// survivors from INFO connect_urls (it was only given the victim's URL).
	reconnected := make(chan string, 1)
	victim := dial(p2, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(nc *nats.Conn) { reconnected <- nc.ConnectedUrl() }))
	eventually(t, 10*time.Second, "connect_urls learned", func() bool { return len(victim.DiscoveredServers()) == 2 })

	// Steady traffic between the survivors, checked for loss and duplicates.
	sub := dial(p1)
	s, _ := sub.SubscribeSync("steady")
	s.SetPendingLimits(-1, -1)
	sub.Flush()
	pub := dial(p0)
	eventually(t, 5*time.Second, "steady interest", func() bool {
		pub.Publish("steady", []byte("warmup"))
		_, err := s.NextMsg(20 * time.Millisecond)
		return err == nil
	})
	for { // drain warm-up messages
		if _, err := s.NextMsg(100 * time.Millisecond); err != nil {
			break
		}
	}
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			pub.Publish("steady", []byte(fmt.Sprint(i)))
			if i == total/3 {
				pub.Flush()
				p2.Cmd.Process.Signal(syscall.SIGKILL)
			}
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		pub.Flush()
	}()
	killed := time.Now()
	<-done
	for i := 0; i < total; i++ {
		m, err := s.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d lost: %v", i, err)
		}
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q (duplicate or reordered)", i, m.Data)
		}
	}
	if m, err := s.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("extra message %q", m.Data)
	}

	select {
	case u := <-reconnected:
		t.Logf("victim's client reconnected to %s %v after the kill", u, time.Since(killed))
	case <-time.After(10 * time.Second):
		t.Fatal("victim's client did not reconnect to a survivor")
	}
	for _, p := range []*testutil.Proc{p0, p1} {
		eventually(t, 10*time.Second, p.Name+" declares the victim dead", func() bool {
			return p.Logged("member gone, pruning its route")
		})
	}
	t.Logf("survivors declared the killed broker dead %v after SIGKILL", time.Since(killed))
}
