package broker_test

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/quic"
)

// End-to-end benchmarks: the real nats.go client against a broker over
// loopback TCP. Run with
//
//	go test -run='^$' -bench=. -benchmem ./broker/
//
// Every server and client is closed by b.Cleanup, so goleak stays quiet.

// benchServer starts a broker on a random loopback port for b.
func benchServer(b *testing.B) *broker.Server {
	b.Helper()
	srv, err := broker.New(testOptions())
	if err != nil {
		b.Fatalf("new server: %v", err)
	}
	if err := srv.Start(); err != nil {
		b.Fatalf("start server: %v", err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv
}

// benchConnect dials srv with nats.go, closing the client at cleanup.
func benchConnect(b *testing.B, srv *broker.Server, opts ...nats.Option) *nats.Conn {
	b.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// BenchmarkPubOnly16 publishes 16-byte messages nobody subscribes to: the
// client's write path, the broker's parser and an index miss.
func BenchmarkPubOnly16(b *testing.B) {
	srv := benchServer(b)
	nc := benchConnect(b, srv)
	payload := bytes.Repeat([]byte("x"), 16)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := nc.Publish("bench.pub", payload); err != nil {
			b.Fatal(err)
		}
	}
	// The round trip proves the broker has read everything.
	if err := nc.FlushTimeout(30 * time.Second); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPubSub128 sends 128-byte messages from one publisher to one
// subscriber and counts them in. The publisher keeps at most window
// messages in flight so the subscriber is never cut off as a slow consumer,
// which would make the count meaningless.
func BenchmarkPubSub128(b *testing.B) {
	srv := benchServer(b)
	pubSub128(b, benchConnect(b, srv), benchConnect(b, srv))
}

// BenchmarkPubSub128QUIC is BenchmarkPubSub128 with both clients over QUIC
// (nats.go with our dialer), for profiling the QUIC path.
func BenchmarkPubSub128QUIC(b *testing.B) {
	tr, err := quic.New(quic.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	o := testOptions()
	o.Listeners = []broker.Listener{{Transport: tr, Addr: "127.0.0.1:0"}}
	srv, err := broker.New(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	url := "nats://" + srv.Addrs()["quic"].String()
	conn := func() *nats.Conn {
		nc, err := nats.Connect(url, nats.SetCustomDialer(quicDialer(b, srv)), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	pubSub128(b, conn(), conn())
}

func pubSub128(b *testing.B, pubConn, subConn *nats.Conn) {
	const window = 8192
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	sub, err := subConn.Subscribe("bench.pubsub", func(*nats.Msg) {
		if n := received.Add(1); n%(window/4) == 0 {
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}
	if err := subConn.Flush(); err != nil { // the SUB is registered
		b.Fatal(err)
	}

	payload := bytes.Repeat([]byte("x"), 128)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var sent int64
	for b.Loop() {
		if err := pubConn.Publish("bench.pubsub", payload); err != nil {
			b.Fatal(err)
		}
		sent++
		for sent-received.Load() > window {
			select {
			case <-progress:
			case <-time.After(10 * time.Millisecond):
				// Progress signals are lossy; re-check the count.
			}
		}
	}
	if err := pubConn.Flush(); err != nil {
		b.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for received.Load() < sent {
		select {
		case <-progress:
		case <-time.After(time.Millisecond):
		case <-deadline:
			b.Fatalf("received %d of %d messages", received.Load(), sent)
		}
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
	if err := sub.Unsubscribe(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRequestReply measures one synchronous request/response round
// trip: requester → broker → responder → broker → requester.
func BenchmarkRequestReply(b *testing.B) {
	srv := benchServer(b)
	responder := benchConnect(b, srv)
	requester := benchConnect(b, srv)
	sub, err := responder.Subscribe("bench.svc", func(m *nats.Msg) {
		m.Respond(m.Data)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		b.Fatal(err)
	}
	req := bytes.Repeat([]byte("r"), 16)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := requester.Request("bench.svc", req, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Data) != len(req) {
			b.Fatalf("response of %d bytes, want %d", len(resp.Data), len(req))
		}
	}
	if err := sub.Unsubscribe(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParallelPubSub runs GOMAXPROCS publisher/subscriber pairs at
// once (b.RunParallel; vary it with -cpu 1,2,4,8), each pair on its own
// subject and connections: what the pairs share is the broker's index,
// its counters and its locks, so contention shows as ns/op that does not
// fall with more cores. Each publisher waits for a round trip every
// parallelWindow messages, so no subscriber is cut as a slow consumer.
func BenchmarkParallelPubSub(b *testing.B) {
	srv := benchServer(b)
	payload := bytes.Repeat([]byte("x"), 128)
	var pair atomic.Int64
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		subject := "par." + strconv.FormatInt(pair.Add(1), 10)
		pub, sub := benchConnect(b, srv), benchConnect(b, srv)
		var got atomic.Int64
		if _, err := sub.Subscribe(subject, func(*nats.Msg) { got.Add(1) }); err != nil {
			b.Error(err)
			return
		}
		if err := sub.Flush(); err != nil {
			b.Error(err)
			return
		}
		sent := int64(0)
		for pb.Next() {
			if err := pub.Publish(subject, payload); err != nil {
				b.Error(err)
				return
			}
			if sent++; sent%parallelWindow == 0 {
				if err := pub.FlushTimeout(30 * time.Second); err != nil {
					b.Error(err)
					return
				}
			}
		}
		if err := pub.FlushTimeout(30 * time.Second); err != nil {
			b.Error(err)
			return
		}
		for deadline := time.Now().Add(30 * time.Second); got.Load() < sent; {
			if time.Now().After(deadline) {
				b.Errorf("subscriber got %d of %d", got.Load(), sent)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

const parallelWindow = 1000
