package broker_test

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/transport/quic"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transportCase is one way clients reach the broker. The conformance suite
// runs every behaviour once per case, so a new transport adds a row here.
type transportCase struct {
	name string
	// listener returns the broker listener for this transport.
	listener func(t *testing.T) broker.Listener
	// clientOpts returns the nats.go options that make a client use it.
	clientOpts func(t *testing.T, srv *broker.Server) []nats.Option
	// url is the server URL a client dials.
	url func(srv *broker.Server) string
}

var transportCases = []transportCase{
	{
		name: "tcp",
		listener: func(t *testing.T) broker.Listener {
			return broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}
		},
		clientOpts: func(*testing.T, *broker.Server) []nats.Option { return nil },
		url: func(srv *broker.Server) string {
			return "nats://" + srv.Addrs()["tcp"].String()
		},
	},
	{
		name: "quic",
		listener: func(t *testing.T) broker.Listener {
			tr, err := quic.New(quic.DefaultConfig())
			if err != nil {
				t.Fatalf("quic transport: %v", err)
			}
			return broker.Listener{Transport: tr, Addr: "127.0.0.1:0"}
		},
		clientOpts: func(t *testing.T, srv *broker.Server) []nats.Option {
			return []nats.Option{nats.SetCustomDialer(quicDialer(t, srv))}
		},
		url: func(srv *broker.Server) string { return "nats://" + srv.Addrs()["quic"].String() },
	},
	wsCase("websocket", false),
	wsCase("websocket-deflate", true),
}

// wsCase is nats.go over ws://, with permessage-deflate offered and
// accepted when compress is set.
func wsCase(name string, compress bool) transportCase {
	return transportCase{
		name: name,
		listener: func(t *testing.T) broker.Listener {
			tr, err := ws.New(ws.Config{Compression: compress})
			if err != nil {
				t.Fatalf("ws transport: %v", err)
			}
			return broker.Listener{Transport: tr, Addr: "127.0.0.1:0"}
		},
		clientOpts: func(*testing.T, *broker.Server) []nats.Option {
			return []nats.Option{nats.Compression(compress)}
		},
		url: func(srv *broker.Server) string { return "ws://" + srv.Addrs()[ws.Name].String() },
	}
}

// quicDialer returns a nats.go dialer pinned to srv's QUIC certificate.
func quicDialer(t testing.TB, srv *broker.Server) *quic.Dialer {
	t.Helper()
	var fp string
	for _, l := range srv.Options().Listeners {
		if qt, ok := l.Transport.(*quic.Transport); ok {
			fp = qt.Fingerprint()
		}
	}
	dc := quic.DefaultDialConfig()
	dc.Fingerprint = fp
	d, err := quic.NewDialer(dc)
	if err != nil {
		t.Fatalf("quic dialer: %v", err)
	}
	return d
}

// testOptions are defaults suited to tests: loopback, random port.
func testOptions() broker.Options {
	o := broker.DefaultOptions()
	o.Host = "127.0.0.1"
	o.Port = -1
	return o
}

// startServer starts a broker with opts (listeners from tc when given) and
// closes it when the test ends.
func startServer(t *testing.T, opts broker.Options, tc *transportCase) *broker.Server {
	t.Helper()
	if tc != nil {
		opts.Listeners = []broker.Listener{tc.listener(t)}
	}
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// connect dials srv with nats.go over tc, closing the client at cleanup.
func connect(t *testing.T, srv *broker.Server, tc *transportCase, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append(tc.clientOpts(t, srv), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	opts = append(opts, extra...)
	nc, err := nats.Connect(tc.url(srv), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// eventually waits for cond (see testutil.Eventually).
var eventually = testutil.Eventually

// rawConn is a plain socket speaking the protocol by hand.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	buf  []byte
}

func dialRaw(t *testing.T, srv *broker.Server) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addrs()["tcp"].String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c}
}
