package broker_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport"
	"github.com/murmurmq/murmur/transport/quic"
)

// recordingQUIC is a QUIC transport whose listeners report the
// connections they hand to the broker.
type recordingQUIC struct {
	*quic.Transport
	conns chan *quic.Conn
}

func (r *recordingQUIC) Listen(addr string) (transport.Listener, error) {
	ln, err := r.Transport.Listen(addr)
	if err != nil {
		return nil, err
	}
	return &recordingListener{Listener: ln, conns: r.conns}, nil
}

type recordingListener struct {
	transport.Listener
	conns chan *quic.Conn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if qc, ok := c.(*quic.Conn); ok {
		select {
		case l.conns <- qc:
		default:
		}
	}
	return c, err
}

// A leaf over QUIC whose hub restarts with the same certificate files
// resumes its TLS session with 0-RTT (the leaf's Preface as early data)
// and carries messages both ways again.
func TestLeafQUICResumesAfterHubRestart(t *testing.T) {
	dir := t.TempDir()
	hubQUIC := func() *recordingQUIC {
		cfg := quic.DefaultConfig()
		cfg.CertFile, cfg.KeyFile, cfg.CreateCert = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), true
		qt, err := quic.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return &recordingQUIC{Transport: qt, conns: make(chan *quic.Conn, 4)}
	}
	// startHub retries while addr is still bound: a closed hub's UDP
	// socket goes with the last of its connections, just after Close.
	startHub := func(qt *recordingQUIC, addr string) *broker.Server {
		t.Helper()
		o := testOptions()
		o.LeafNode = &broker.LeafNodeOptions{QUIC: &broker.Listener{Transport: qt, Addr: addr}}
		var srv *broker.Server
		eventually(t, 5*time.Second, "the hub listening on "+addr, func() bool {
			s, err := broker.New(o)
			if err != nil {
				t.Fatal(err)
			}
			if s.Start() != nil {
				s.Close()
				return false
			}
			srv = s
			return true
		})
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	accepted := func(qt *recordingQUIC) *quic.Conn {
		t.Helper()
		select {
		case c := <-qt.conns:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("the hub accepted no QUIC leaf connection")
			return nil
		}
	}

	first := hubQUIC()
	hub := startHub(first, "127.0.0.1:0")
	addr := hub.LeafQUICAddr().String()
	dc := quic.DefaultConfig()
	dc.Dial.Fingerprint = first.Fingerprint()
	lt, err := quic.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	leaf := startLeafOf(t, "quic://"+addr, func(r *broker.RemoteLeaf) { r.QUIC = lt })
	waitLeafs(t, leaf, 1)
	if c := accepted(first); c.ConnectionState().DidResume {
		t.Fatal("the first leaf connection resumed a session")
	}
	hc, lc := connectTCP(t, hub), connectTCP(t, leaf)
	exercise(t, hc, lc, ourInterest(t, hub), ourInterest(t, leaf))
	hc.Close()
	lc.Close()

	hub.Close()
	second := hubQUIC()
	hub = startHub(second, addr)
	waitLeafs(t, hub, 1)
	waitLeafs(t, leaf, 1)
	c := accepted(second)
	if !c.ConnectionState().DidResume {
		t.Fatal("after the hub's restart the leaf did not resume its session")
	}
	exercise(t, connectTCP(t, hub), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))
}
