package broker_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// Raw-socket tests: they check the exact bytes the broker writes and when it
// closes, against what nats-server v2.15.2 does. Every expectation was first
// confirmed by hand against a real nats-server; the tests themselves only
// need the broker. The tests that take their server from rawTarget (the
// byte-level tables in raw_cases_test.go among them) can be pointed at a
// real nats-server with default options to re-check them, cases marked as
// broker bugs included:
//
//	MURMUR_REF_SERVER=127.0.0.1:4222 go test -run TestRaw ./broker/
//
// (the tests that need their own options then still use the broker).

// rawWait bounds every wait for bytes (or a close) from the server.
const rawWait = 2 * time.Second

// quietConnect is a CONNECT that turns off verbose and pedantic: nats-server
// turns both on when CONNECT does not mention them (and before CONNECT).
const quietConnect = `{"verbose":false,"pedantic":false}`

// dialRawAddr is dialRaw for any address (a broker or a reference server).
func dialRawAddr(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, rawWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c}
}

// send writes s in one write.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if err := r.trySend(s); err != nil {
		r.t.Fatalf("write %q: %v", clip(s), err)
	}
}

// trySend writes s in one write and reports a failure (the server may have
// closed the connection already).
func (r *rawConn) trySend(s string) error {
	_ = r.conn.SetWriteDeadline(time.Now().Add(rawWait))
	_, err := io.WriteString(r.conn, s)
	return err
}

// trySendBytewise writes s one byte per write, so the server sees its ops
// split at every position (or coalesced: both must parse the same).
func (r *rawConn) trySendBytewise(s string) error {
	for i := range len(s) {
		if err := r.trySend(s[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// fill reads once more into r.buf.
func (r *rawConn) fill(deadline time.Time) error {
	_ = r.conn.SetReadDeadline(deadline)
	var b [16 << 10]byte
	n, err := r.conn.Read(b[:])
	r.buf = append(r.buf, b[:n]...)
	return err
}

// readLine returns the next line without its CRLF.
func (r *rawConn) readLine() string {
	r.t.Helper()
	deadline := time.Now().Add(rawWait)
	for {
		if i := bytes.Index(r.buf, []byte("\r\n")); i >= 0 {
			line := string(r.buf[:i])
			r.buf = r.buf[i+2:]
			return line
		}
		if err := r.fill(deadline); err != nil {
			r.t.Fatalf("reading a line, got %q then: %v", clip(string(r.buf)), err)
		}
	}
}

// expect reads exactly len(want) bytes and fails unless they are want.
func (r *rawConn) expect(want string) {
	r.t.Helper()
	deadline := time.Now().Add(rawWait)
	for len(r.buf) < len(want) {
		if err := r.fill(deadline); err != nil {
			r.t.Fatalf("want %q, got %q then: %v", clip(want), clip(string(r.buf)), err)
		}
	}
	got := string(r.buf[:len(want)])
	r.buf = r.buf[len(want):]
	if got != want {
		r.t.Fatalf("got %q, want %q", clip(got), clip(want))
	}
}

// expectOpen proves the connection is still open and that nothing else was
// written: a PING must be answered by exactly PONG.
func (r *rawConn) expectOpen() {
	r.t.Helper()
	r.send("PING\r\n")
	r.expect("PONG\r\n")
}

// expectClosed fails unless the server closes the connection within rawWait
// without writing anything more.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	data, err := r.drain()
	if len(data) > 0 {
		r.t.Fatalf("unexpected bytes before close: %q", clip(string(data)))
	}
	if err != nil {
		r.t.Fatalf("connection not closed: %v", err)
	}
}

// drain reads until the server closes the connection (EOF or reset) and
// returns what it read; the error is set only when rawWait passed first.
func (r *rawConn) drain() ([]byte, error) {
	deadline := time.Now().Add(rawWait)
	for {
		err := r.fill(deadline)
		if err == nil {
			continue
		}
		data := r.buf
		r.buf = nil
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return data, err
		}
		return data, nil // EOF, or a reset because the server left our bytes unread
	}
}

// readInfo reads the INFO line and decodes its JSON; it returns the raw line
// (with CRLF) too.
func (r *rawConn) readInfo() (map[string]any, string) {
	r.t.Helper()
	line := r.readLine()
	js, ok := strings.CutPrefix(line, "INFO ")
	if !ok {
		r.t.Fatalf("first line %q is not INFO", clip(line))
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		r.t.Fatalf("INFO JSON %q: %v", clip(js), err)
	}
	return info, line + "\r\n"
}

// handshake reads INFO, sends CONNECT with connectJSON (not verbose, not
// protocol 1) and waits for the PONG that proves the server applied it. It
// returns the INFO.
func (r *rawConn) handshake(connectJSON string) map[string]any {
	r.t.Helper()
	info, _ := r.readInfo()
	r.send("CONNECT " + connectJSON + "\r\nPING\r\n")
	r.expect("PONG\r\n")
	return info
}

// clip shortens s for failure messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..." + strconv.Itoa(len(s)-200) + " more bytes"
	}
	return s
}

// witness is a well-behaved nats.go client on the same server: its round
// trips after each case prove that a misbehaving connection disturbed
// nobody else.
type witness struct {
	nc *nats.Conn
}

func newWitness(t *testing.T, url string) *witness {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("witness connect: %v", err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe("witness.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &witness{nc: nc}
}

// check does one request/reply round trip.
func (w *witness) check(t *testing.T) {
	t.Helper()
	m, err := w.nc.Request("witness.echo", []byte("still here"), rawWait)
	if err != nil || string(m.Data) != "still here" {
		t.Fatalf("witness round trip: %v", err)
	}
}

// rawTarget starts a broker with default options and returns its address,
// unless MURMUR_REF_SERVER names a real nats-server to check the byte-level
// expectations against instead (ref is then true).
func rawTarget(t *testing.T) (addr string, ref bool) {
	t.Helper()
	if a := os.Getenv("MURMUR_REF_SERVER"); a != "" {
		return a, true
	}
	return startServer(t, testOptions(), nil).Addrs()["tcp"].String(), false
}

func TestRawInfo(t *testing.T) {
	opts := testOptions()
	opts.Name = "raw-info"
	opts.MaxPayload = 512 << 10
	srv := startServer(t, opts, nil)
	addr := srv.Addrs()["tcp"].(*net.TCPAddr)
	r := dialRaw(t, srv)
	info, line := r.readInfo()

	want := map[string]any{
		"server_id":      srv.ID(),
		"server_name":    "raw-info",
		"version":        broker.ServerVersion,
		"murmur_version": broker.Version,
		"proto":          float64(1),
		"go":             runtime.Version(),
		"host":           "127.0.0.1",
		"port":           float64(addr.Port),
		"headers":        true,
		"max_payload":    float64(512 << 10),
		"client_ip":      "127.0.0.1",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("INFO %s = %#v, want %#v", k, info[k], v)
		}
	}
	id, ok := info["client_id"].(float64)
	if !ok || id < 1 {
		t.Errorf("INFO client_id = %#v, want a positive number", info["client_id"])
	}
	if sid := srv.ID(); len(sid) != 56 || sid[0] != 'N' {
		t.Errorf("server_id %q: want 'N' and 55 base32 characters, like nats-server", sid)
	}

	// Each connection gets its own client_id.
	info2, _ := dialRaw(t, srv).readInfo()
	if info2["client_id"] == info["client_id"] {
		t.Errorf("two connections share client_id %v", info["client_id"])
	}

	// Before CONNECT the server already answers PING.
	r.expectOpen()

	t.Run("TrailingSpace", func(t *testing.T) {
		if !strings.HasSuffix(line, "} \r\n") {
			t.Fatalf("INFO line ends %q, want nats-server's `} \\r\\n`", line[len(line)-4:])
		}
	})
}

// TestRawConnectInfo checks the async INFO nats-server sends after the
// first PONG to a protocol-1 client.
func TestRawConnectInfo(t *testing.T) {
	addr, _ := rawTarget(t)
	r := dialRawAddr(t, addr)
	r.readInfo()
	r.send(`CONNECT {"verbose":false,"pedantic":false,"protocol":1}` + "\r\nPING\r\n")
	r.expect("PONG\r\n")
	info, _ := r.readInfo()
	if info["connect_info"] != true || info["remote_account"] != "$G" {
		t.Fatalf("async INFO %v: want connect_info true and remote_account $G", info)
	}
	// Only once.
	r.expectOpen()
}

// TestRawHeadersToPlainSubscriber: a subscriber that did not ask for headers
// gets MSG with the payload only; one that did gets the exact HMSG, also
// from a nats.go publisher.
func TestRawHeadersToPlainSubscriber(t *testing.T) {
	addr, _ := rawTarget(t)
	w := newWitness(t, "nats://"+addr)
	plain := dialRawAddr(t, addr)
	plain.handshake(quietConnect)
	plain.send("SUB foo 1\r\n")
	plain.expectOpen()
	hdrs := dialRawAddr(t, addr)
	hdrs.handshake(headersConnect)
	hdrs.send("SUB foo 2\r\n")
	hdrs.expectOpen()

	pub := dialRawAddr(t, addr)
	pub.handshake(headersConnect)
	pub.send("HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB foo r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n")
	pub.expectOpen()
	m := nats.NewMsg("foo")
	m.Header.Set("A", "b")
	m.Data = []byte("hi")
	if err := w.nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	plain.expect("MSG foo 1 2\r\nhi\r\nMSG foo 1 r 0\r\n\r\nMSG foo 1 2\r\nhi\r\n")
	plain.expectOpen()
	hdrs.expect("HMSG foo 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" +
		"HMSG foo 2 r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n" +
		"HMSG foo 2 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n")
	hdrs.expectOpen()
	w.check(t)
}
