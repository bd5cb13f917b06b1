package broker_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/quic"
	"github.com/murmurmq/murmur/transport/tcp"
)

// startDual starts a broker serving TCP and QUIC at once.
func startDual(t *testing.T, qc quic.Config) *broker.Server {
	t.Helper()
	qt, err := quic.New(qc)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		{Transport: qt, Addr: "127.0.0.1:0"},
	}
	return startServer(t, o, nil)
}

func connectQUIC(t *testing.T, srv *broker.Server, addr string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.SetCustomDialer(quicDialer(t, srv)), nats.MaxReconnects(0)}, opts...)
	nc, err := nats.Connect("nats://"+addr, opts...)
	if err != nil {
		t.Fatalf("connect over quic: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestTCPAndQUICShareSubjects(t *testing.T) {
	srv := startDual(t, quic.DefaultConfig())
	tcpc := connectTCP(t, srv)
	quicc := connectQUIC(t, srv, srv.Addrs()["quic"].String())
	for _, dir := range []struct {
		name     string
		pub, sub *nats.Conn
	}{{"tcp->quic", tcpc, quicc}, {"quic->tcp", quicc, tcpc}} {
		s, _ := dir.sub.SubscribeSync("x." + dir.name)
		dir.sub.Flush()
		for i := 0; i < 100; i++ {
			dir.pub.Publish("x."+dir.name, []byte{byte(i)})
		}
		dir.pub.Flush()
		for i := 0; i < 100; i++ {
			if m := recv(t, s); m.Data[0] != byte(i) {
				t.Fatalf("%s: message %d out of order", dir.name, i)
			}
		}
	}
	// Request/reply across transports, and /connz-style transport labels.
	quicc.Subscribe("svc", func(m *nats.Msg) { m.Respond([]byte("quic-here")) })
	quicc.Flush()
	if r, err := tcpc.Request("svc", nil, 5*time.Second); err != nil || string(r.Data) != "quic-here" {
		t.Fatalf("request tcp->quic: %v", err)
	}
	seen := map[string]bool{}
	for _, c := range srv.Connections(false) {
		seen[c.Transport] = true
	}
	if !seen["tcp"] || !seen["quic"] {
		t.Fatalf("connection transports %v", seen)
	}
}

func TestQUICClientClosedWithoutUnsub(t *testing.T) {
	srv := startDual(t, quic.DefaultConfig())
	nc := connectQUIC(t, srv, srv.Addrs()["quic"].String())
	for _, s := range []string{"a", "b.*", "c.>"} {
		nc.SubscribeSync(s)
	}
	nc.Flush()
	if n := srv.Stats().Subscriptions; n != 3 {
		t.Fatalf("subscriptions %d", n)
	}
	nc.Close()
	eventually(t, 5*time.Second, "subscriptions and connection gone", func() bool {
		st := srv.Stats()
		return st.Subscriptions == 0 && st.Connections == 0
	})
}

// udpRelay forwards datagrams between one client and a server address and
// can black-hole them, to cut a QUIC path without closing anything.
type udpRelay struct {
	pc     net.PacketConn
	server *net.UDPAddr
	drop   atomic.Bool
	wg     sync.WaitGroup
}

func newUDPRelay(t *testing.T, server net.Addr) *udpRelay {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, server.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRelay{pc: pc, server: server.(*net.UDPAddr)}
	var client atomic.Pointer[net.Addr]
	r.wg.Add(2)
	go func() { // client -> server
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			client.Store(&from)
			if !r.drop.Load() {
				up.Write(buf[:n])
			}
		}
	}()
	go func() { // server -> client
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			if to := client.Load(); to != nil && !r.drop.Load() {
				pc.WriteTo(buf[:n], *to)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		up.Close()
		r.wg.Wait()
	})
	return r
}

func TestQUICPathDroppedUntilIdleTimeout(t *testing.T) {
	qc := quic.DefaultConfig()
	qc.IdleTimeout = time.Second
	qc.KeepAlivePeriod = 200 * time.Millisecond
	srv := startDual(t, qc)
	relay := newUDPRelay(t, srv.Addrs()["quic"])
	nc := connectQUIC(t, srv, relay.pc.LocalAddr().String())
	nc.SubscribeSync("vanish.>")
	nc.Flush()
	other := connectTCP(t, srv)
	if srv.Stats().Subscriptions != 1 {
		t.Fatal("subscription missing")
	}
	relay.drop.Store(true) // the client's network goes away
	start := time.Now()
	eventually(t, 10*time.Second, "idle timeout closes the vanished client", func() bool {
		st := srv.Stats()
		return st.Subscriptions == 0 && st.Connections == 1
	})
	t.Logf("vanished QUIC client removed %v after its path dropped", time.Since(start))
	if err := other.Flush(); err != nil {
		t.Fatalf("other client affected: %v", err)
	}
}
