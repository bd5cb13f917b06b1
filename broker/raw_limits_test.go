package broker_test

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// Limits that need their own options: keepalive, connection and
// subscription limits, slow consumers. The expected bytes were confirmed
// against nats-server v2.15.2 configured the same way.

// closedReason returns the close reason of connection cid, or "" while the
// server has not recorded it as closed.
func closedReason(srv *broker.Server, cid uint64) string {
	for _, c := range srv.ClosedConnections() {
		if c.CID == cid {
			return c.Reason
		}
	}
	return ""
}

func clientID(t *testing.T, info map[string]any) uint64 {
	t.Helper()
	id, ok := info["client_id"].(float64)
	if !ok {
		t.Fatalf("INFO has no client_id: %v", info)
	}
	return uint64(id)
}

// TestRawStaleConnection: with ping_interval 50ms and ping_max 2, a client
// that never answers gets PING, PING, then -ERR 'Stale Connection' and is
// closed, with or without CONNECT; a client that answers stays.
func TestRawStaleConnection(t *testing.T) {
	opts := testOptions()
	opts.PingInterval = 50 * time.Millisecond
	opts.PingMax = 2
	srv := startServer(t, opts, nil)
	w := newWitness(t, srv.ClientURL())

	silent := dialRaw(t, srv)
	silentID := clientID(t, silent.handshake(quietConnect))
	noConnect := dialRaw(t, srv) // never sends CONNECT
	info, _ := noConnect.readInfo()
	noConnectID := clientID(t, info)
	alive := dialRaw(t, srv)
	alive.handshake(quietConnect)

	// The answering client outlives several stale periods.
	for pings := 0; pings < 3*opts.PingMax; {
		switch line := alive.readLine(); line {
		case "PING":
			alive.send("PONG\r\n")
			pings++
		default:
			t.Fatalf("answering client got %q", line)
		}
	}

	for _, r := range []*rawConn{silent, noConnect} {
		r.expect("PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
		r.expectClosed()
	}
	eventually(t, rawWait, "stale connections recorded as closed", func() bool {
		return closedReason(srv, silentID) != "" && closedReason(srv, noConnectID) != ""
	})
	for _, id := range []uint64{silentID, noConnectID} {
		if got := closedReason(srv, id); got != "Stale Connection" {
			t.Errorf("cid %d closed for %q, want Stale Connection", id, got)
		}
	}
	if got := srv.Stats().StaleConnections; got != 2 {
		t.Errorf("StaleConnections = %d, want 2", got)
	}
	w.check(t)
}

// TestRawMaxConnections: past max_connections a new client gets INFO, then
// -ERR 'maximum connections exceeded', then the close.
func TestRawMaxConnections(t *testing.T) {
	opts := testOptions()
	opts.MaxConnections = 2
	srv := startServer(t, opts, nil)
	w := newWitness(t, srv.ClientURL()) // connection 1
	first := dialRaw(t, srv)            // connection 2
	first.handshake(quietConnect)

	over := dialRaw(t, srv)
	if info, _ := over.readInfo(); info["server_id"] != srv.ID() {
		t.Errorf("rejected client's INFO: %v", info)
	}
	over.expect("-ERR 'maximum connections exceeded'\r\n")
	over.expectClosed()
	first.expectOpen()
	w.check(t)

	// A freed slot takes a new client.
	first.conn.Close()
	eventually(t, rawWait, "the first client to be gone", func() bool { return srv.NumClients() == 1 })
	again := dialRaw(t, srv)
	again.handshake(quietConnect)
	again.expectOpen()
	w.check(t)
}

// TestRawMaxSubscriptions: a SUB past max_subscriptions gets -ERR 'maximum
// subscriptions exceeded' (and no +OK when verbose); the connection and its
// other subscriptions keep working.
func TestRawMaxSubscriptions(t *testing.T) {
	opts := testOptions()
	opts.MaxSubscriptions = 2
	srv := startServer(t, opts, nil)
	w := newWitness(t, srv.ClientURL())

	r := dialRaw(t, srv)
	r.handshake(quietConnect)
	r.send("SUB foo 1\r\nSUB bar 2\r\nSUB baz 3\r\n")
	r.expect("-ERR 'maximum subscriptions exceeded'\r\n")
	r.expectOpen()
	r.send("PUB foo 1\r\na\r\nPUB bar 1\r\nb\r\nPUB baz 1\r\nc\r\n")
	r.expect("MSG foo 1 1\r\na\r\nMSG bar 2 1\r\nb\r\n")
	r.expectOpen()
	// Unsubscribing frees a slot.
	r.send("UNSUB 1\r\nSUB baz 3\r\nPUB baz 1\r\nc\r\n")
	r.expect("MSG baz 3 1\r\nc\r\n")
	r.expectOpen()

	v := dialRaw(t, srv)
	v.readInfo()
	v.send("CONNECT " + verboseConnect + "\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
	v.expect("+OK\r\n+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n")
	v.expectOpen()
	w.check(t)
}

// TestRawSlowConsumer: a subscriber that stops reading while a publisher
// floods it is closed without any -ERR and counted, while the publisher and
// a healthy subscriber lose nothing.
func TestRawSlowConsumer(t *testing.T) {
	opts := testOptions()
	opts.MaxPending = 64 << 10
	opts.MaxPayload = 8 << 10
	opts.WriteDeadline = 200 * time.Millisecond
	srv := startServer(t, opts, nil)
	w := newWitness(t, srv.ClientURL())
	tcp := &transportCases[0]

	slow := dialRaw(t, srv)
	slowID := clientID(t, slow.handshake(quietConnect))
	slow.send("SUB flood 1\r\n")
	slow.expectOpen()
	// From here on slow never reads until the server has given up on it.

	healthy := connect(t, srv, tcp)
	var got atomic.Int64
	if _, err := healthy.Subscribe("flood", func(*nats.Msg) { got.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := healthy.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, srv, tcp)

	// Publish in batches well under max_pending and wait for the healthy
	// subscriber after each, so only the slow one falls behind.
	payload := make([]byte, 4<<10)
	var sent int64
	publish := func(n int) {
		t.Helper()
		for range n {
			if err := pub.Publish("flood", payload); err != nil {
				t.Fatalf("publish: %v", err)
			}
			sent++
		}
		if err := pub.Flush(); err != nil {
			t.Fatalf("publisher flush: %v", err)
		}
		eventually(t, rawWait, "the healthy subscriber to get every message", func() bool { return got.Load() == sent })
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().SlowConsumers == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no slow consumer after %d messages (%d MB)", sent, sent*int64(len(payload))>>20)
		}
		publish(8)
	}

	eventually(t, rawWait, "the slow consumer to be closed", func() bool { return closedReason(srv, slowID) != "" })
	t.Logf("slow consumer after %d messages: %s", sent, closedReason(srv, slowID))
	if reason := closedReason(srv, slowID); reason != "Slow Consumer (Pending Bytes)" && reason != "Slow Consumer (Write Deadline)" {
		t.Errorf("slow consumer closed for %q", reason)
	}
	if n := srv.Stats().SlowConsumers; n != 1 {
		t.Errorf("SlowConsumers = %d, want 1", n)
	}
	// What the kernel still held for it arrives, then the close: no -ERR,
	// as nats-server (the last message may be cut short).
	data, err := slow.drain()
	if err != nil {
		t.Fatalf("slow consumer not closed: %v (read %d bytes, tail %q)", err, len(data), data[max(0, len(data)-60):])
	}
	if !strings.HasPrefix(string(data), "MSG flood 1 4096\r\n") || bytes.Contains(data, []byte("-ERR")) {
		t.Errorf("slow consumer got %d bytes: %q ... %q; want messages only", len(data), clip(string(data)), data[max(0, len(data)-40):])
	}

	// The publisher and the healthy subscriber carry on.
	publish(64)
	if !healthy.IsConnected() || !pub.IsConnected() {
		t.Fatalf("healthy clients disconnected: subscriber %v, publisher %v", healthy.Status(), pub.Status())
	}
	w.check(t)
}
