package jetstream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// badServer is one side of the bad input comparison: Murmur's broker
// process or nats-server, started from the same config file.
type badServer struct {
	name string
	url  string
	sd   string // store_dir
	nc   *nats.Conn
	stop func()
}

// badConf is the config both sides run: JetStream with store dir sd and
// extra lines in the jetstream block.
func badConf(t *testing.T, sd, extra string) string {
	return writeJSConf(t, fmt.Sprintf("jetstream {\n  store_dir: %q\n  %s\n}\n", sd, extra))
}

// writeJSConf writes a config file for both sides and returns its path.
func writeJSConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "js.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startBadMurmur runs the broker binary on conf.
func startBadMurmur(t *testing.T, sd, conf string) *badServer {
	t.Helper()
	p := testutil.StartBroker(t, "murmur", "-c", conf)
	testutil.Eventually(t, 10*time.Second, "JetStream enabled", func() bool { return p.Logged("JetStream enabled") })
	s := &badServer{name: "murmur", url: p.URL(), sd: sd, stop: func() { p.Cmd.Process.Kill(); p.Cmd.Wait() }}
	s.connect(t)
	return s
}

// startBadNatsServer runs nats-server 2.15 on conf.
func startBadNatsServer(t *testing.T, sd, conf string) *badServer {
	t.Helper()
	port := testutil.FreePort(t)
	cmd := exec.Command(testutil.NatsServer(t), "-c", conf, "-p", fmt.Sprint(port), "-a", "127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(stop)
	s := &badServer{name: "nats-server", url: fmt.Sprintf("nats://127.0.0.1:%d", port), sd: sd, stop: stop}
	testutil.Eventually(t, 10*time.Second, "nats-server listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	s.connect(t)
	return s
}

func (s *badServer) connect(t *testing.T) {
	t.Helper()
	nc, err := nats.Connect(s.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.nc = nc
}

// startBadPair starts both sides, each on its own store dir, with the
// same jetstream block.
func startBadPair(t *testing.T, extra string) (ref, ours *badServer) {
	t.Helper()
	rsd, osd := t.TempDir(), t.TempDir()
	ref = startBadNatsServer(t, rsd, badConf(t, rsd, extra))
	ours = startBadMurmur(t, osd, badConf(t, osd, extra))
	return ref, ours
}

// apiAnswer is what a request got: the error's code, err_code and
// description, "" and 0 for a success, or "no answer" when nothing came
// back in time.
type apiAnswer struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (a apiAnswer) String() string {
	if a.Code == 0 && a.Description == "" {
		return "ok"
	}
	return fmt.Sprintf("%d/%d %q", a.Code, a.ErrCode, a.Description)
}

func ask(t *testing.T, nc *nats.Conn, subject, body string) apiAnswer {
	t.Helper()
	m, err := nc.Request(subject, []byte(body), 2*time.Second)
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
		return apiAnswer{Description: "no answer"}
	}
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var r struct {
		Error *apiAnswer `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		// A pull request's answer is a status message, not JSON.
		if st := m.Header.Get("Status"); st != "" {
			return apiAnswer{Description: "status " + st + " " + m.Header.Get("Description")}
		}
		t.Fatalf("%s: %q: %v", subject, m.Data, err)
	}
	if r.Error == nil {
		return apiAnswer{}
	}
	return *r.Error
}

// TestBadInputSideBySide sends one table of bad API requests to Murmur and
// to nats-server 2.15 and compares code, err_code and description.
func TestBadInputSideBySide(t *testing.T) {
	ref, ours := startBadPair(t, "")
	long := strings.Repeat("n", 300)
	steps := []struct{ name, subject, body string }{
		{"create S", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"create S2", "$JS.API.STREAM.CREATE.S2", `{"name":"S2","subjects":["s2.*"]}`},

		// Stream names.
		{"stream name with *", "$JS.API.STREAM.CREATE.a*", `{"name":"a*","subjects":["n1"]}`},
		{"stream name with >", "$JS.API.STREAM.CREATE.a>", `{"name":"a>","subjects":["n2"]}`},
		{"stream name *", "$JS.API.STREAM.CREATE.*", `{"name":"*","subjects":["n3"]}`},
		{"stream name with . in the body", "$JS.API.STREAM.CREATE.ab", `{"name":"a.b","subjects":["n4"]}`},
		{"stream name with a space in the body", "$JS.API.STREAM.CREATE.ab", `{"name":"a b","subjects":["n5"]}`},
		{"stream name with a path separator", "$JS.API.STREAM.CREATE.a/b", `{"name":"a/b","subjects":["n6"]}`},
		{"stream name too long", "$JS.API.STREAM.CREATE." + long, `{"name":"` + long + `","subjects":["n7"]}`},
		{"stream name empty in body", "$JS.API.STREAM.CREATE.E", `{"subjects":["n8"]}`},
		{"stream info name with *", "$JS.API.STREAM.INFO.a*", ``},

		// Subjects.
		{"overlap", "$JS.API.STREAM.CREATE.T", `{"name":"T","subjects":["s.a"]}`},
		{"overlap wider", "$JS.API.STREAM.CREATE.T", `{"name":"T","subjects":[">"]}`},
		{"overlap on update", "$JS.API.STREAM.UPDATE.S2", `{"name":"S2","subjects":["s.b"]}`},
		{"subjects overlap within", "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w.*","w.a"]}`},
		{"duplicate subjects", "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w.a","w.a"]}`},
		{"bad subject", "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w..a"]}`},
		{"subject with a space", "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w a"]}`},
		{"subject $JS.API", "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["$JS.API.>"]}`},

		// Oversized configs.
		{"description too long", "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"description":"` + strings.Repeat("d", 5000) + `"}`},
		{"max_msg_size over max_payload", "$JS.API.STREAM.CREATE.M", `{"name":"M","subjects":["m"],"max_msg_size":2000000}`},
		{"negative max_msgs", "$JS.API.STREAM.CREATE.M", `{"name":"M","subjects":["m"],"max_msgs":-5}`},

		// Unknown fields are ignored (json.Unmarshal), as nats-server.
		{"unknown field", "$JS.API.STREAM.CREATE.U", `{"name":"U","subjects":["u"],"bogus":1,"nested":{"x":[1,2]}}`},
		{"unknown field in consumer", "$JS.API.CONSUMER.CREATE.U.uc", `{"stream_name":"U","config":{"name":"uc","ack_policy":"explicit","bogus":true},"extra":"x"}`},

		// Malformed JSON.
		{"truncated JSON", "$JS.API.STREAM.CREATE.J", `{"name":`},
		{"not an object", "$JS.API.STREAM.CREATE.J", `[1,2]`},
		{"a string", "$JS.API.STREAM.CREATE.J", `"J"`},
		{"wrong type", "$JS.API.STREAM.CREATE.J", `{"name":"J","subjects":"j"}`},
		{"garbage", "$JS.API.STREAM.CREATE.J", `not json`},
		{"empty create", "$JS.API.STREAM.CREATE.J", ``},
		{"trailing garbage", "$JS.API.STREAM.CREATE.J", `{"name":"J","subjects":["j"]} x`},
		{"bad JSON on update", "$JS.API.STREAM.UPDATE.S", `{"name":`},
		{"bad JSON on purge", "$JS.API.STREAM.PURGE.S", `{"filter":`},
		{"bad JSON on msg get", "$JS.API.STREAM.MSG.GET.S", `{"seq":"x"}`},
		{"bad JSON on consumer create", "$JS.API.CONSUMER.CREATE.S.c", `{"config":`},
		{"bad JSON on stream names", "$JS.API.STREAM.NAMES", `{"offset":`},

		// Consumer names.
		{"durable with .", "$JS.API.CONSUMER.CREATE.S", `{"stream_name":"S","config":{"durable_name":"a.b","ack_policy":"explicit"}}`},
		{"durable with *", "$JS.API.CONSUMER.CREATE.S", `{"stream_name":"S","config":{"durable_name":"a*","ack_policy":"explicit"}}`},
		{"durable with >", "$JS.API.CONSUMER.CREATE.S", `{"stream_name":"S","config":{"durable_name":"a>","ack_policy":"explicit"}}`},
		{"durable with a space", "$JS.API.CONSUMER.CREATE.S", `{"stream_name":"S","config":{"durable_name":"a b","ack_policy":"explicit"}}`},
		{"consumer name with *", "$JS.API.CONSUMER.CREATE.S.a*", `{"stream_name":"S","config":{"name":"a*","ack_policy":"explicit"}}`},
		{"consumer name with a space", "$JS.API.CONSUMER.CREATE.S", `{"stream_name":"S","config":{"name":"a b","ack_policy":"explicit"}}`},
		{"consumer name with /", "$JS.API.CONSUMER.CREATE.S.a/b", `{"stream_name":"S","config":{"name":"a/b","ack_policy":"explicit"}}`},
		{"consumer name too long", "$JS.API.CONSUMER.CREATE.S." + long, `{"stream_name":"S","config":{"name":"` + long + `","ack_policy":"explicit"}}`},
		{"consumer stream mismatch", "$JS.API.CONSUMER.CREATE.S.c1", `{"stream_name":"X","config":{"name":"c1","ack_policy":"explicit"}}`},
		{"consumer description too long", "$JS.API.CONSUMER.CREATE.S.c2", `{"stream_name":"S","config":{"name":"c2","ack_policy":"explicit","description":"` + strings.Repeat("d", 5000) + `"}}`},

		// Missing streams (10059).
		{"info missing stream", "$JS.API.STREAM.INFO.NOPE", ``},
		{"update missing stream", "$JS.API.STREAM.UPDATE.NOPE", `{"name":"NOPE","subjects":["nope"]}`},
		{"delete missing stream", "$JS.API.STREAM.DELETE.NOPE", ``},
		{"purge missing stream", "$JS.API.STREAM.PURGE.NOPE", ``},
		{"msg get missing stream", "$JS.API.STREAM.MSG.GET.NOPE", `{"seq":1}`},
		{"msg delete missing stream", "$JS.API.STREAM.MSG.DELETE.NOPE", `{"seq":1}`},
		{"consumer create missing stream", "$JS.API.CONSUMER.CREATE.NOPE.c", `{"stream_name":"NOPE","config":{"name":"c","ack_policy":"explicit"}}`},
		{"durable create missing stream", "$JS.API.CONSUMER.DURABLE.CREATE.NOPE.c", `{"stream_name":"NOPE","config":{"durable_name":"c","ack_policy":"explicit"}}`},
		{"consumer names missing stream", "$JS.API.CONSUMER.NAMES.NOPE", ``},
		{"consumer list missing stream", "$JS.API.CONSUMER.LIST.NOPE", ``},
		{"consumer info missing stream", "$JS.API.CONSUMER.INFO.NOPE.c", ``},

		// Missing consumers (10014).
		{"consumer info missing", "$JS.API.CONSUMER.INFO.S.nope", ``},
		{"consumer delete missing", "$JS.API.CONSUMER.DELETE.S.nope", ``},
		{"consumer pause missing", "$JS.API.CONSUMER.PAUSE.S.nope", `{}`},
		{"pull from missing consumer", "$JS.API.CONSUMER.MSG.NEXT.S.nope", `{"batch":1,"expires":500000000}`},

		// Bodies where none is wanted, and unknown API subjects.
		{"info with garbage body", "$JS.API.STREAM.INFO.S", `garbage`},
		{"unknown API subject", "$JS.API.STREAM.FROB.S", ``},
		{"stream info with a token too many", "$JS.API.STREAM.INFO.S.x", ``},
		{"stream names with a token too many", "$JS.API.STREAM.NAMES.x", ``},
		{"consumer info with a token too few", "$JS.API.CONSUMER.INFO.S", ``},

		// Replica requests without a JetStream cluster (10010).
		{"stream leader stepdown", "$JS.API.STREAM.LEADER.STEPDOWN.S", ``},
		{"stream leader stepdown, missing stream", "$JS.API.STREAM.LEADER.STEPDOWN.NOPE", ``},
		{"stream peer remove", "$JS.API.STREAM.PEER.REMOVE.S", `{"peer":"x"}`},
		{"consumer leader stepdown", "$JS.API.CONSUMER.LEADER.STEPDOWN.S.c", ``},
		{"consumer peer remove", "$JS.API.CONSUMER.PEER.REMOVE.S.c", `{"peer":"x"}`},
		{"delete S", "$JS.API.STREAM.DELETE.S", ``},
	}
	for _, st := range steps {
		want := ask(t, ref.nc, st.subject, st.body)
		got := ask(t, ours.nc, st.subject, st.body)
		if strings.Contains(want.Description, " into Go ") {
			// A type error names the Go type decoded into, nats-server's
			// (server.StreamConfigRequest) or Murmur's: compare up to it.
			got.Description, _, _ = strings.Cut(got.Description, " into Go ")
			want.Description, _, _ = strings.Cut(want.Description, " into Go ")
		}
		if got != want {
			t.Errorf("%s:\n  Murmur      %v\n  nats-server %v", st.name, got, want)
		}
	}
}

// rawPubErr publishes a message announcing size bytes on a raw client
// connection and returns the first line the server answers.
func rawPubErr(t *testing.T, url, subject string, size int) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB %s _INBOX.raw %d\r\n", subject, size)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "closed: " + err.Error()
		}
		if !strings.HasPrefix(line, "PING") {
			return strings.TrimSpace(line)
		}
		fmt.Fprint(c, "PONG\r\n")
	}
}

// TestBadInputOversizedRequest: a request body over max_payload is refused
// by the protocol layer with nats-server's -ERR, and the server goes on.
func TestBadInputOversizedRequest(t *testing.T) {
	ref, ours := startBadPair(t, "")
	for _, s := range []*badServer{ref, ours} {
		s.nc.Close()
	}
	want := rawPubErr(t, ref.url, "$JS.API.STREAM.CREATE.BIG", 2<<20)
	got := rawPubErr(t, ours.url, "$JS.API.STREAM.CREATE.BIG", 2<<20)
	if got != want {
		t.Errorf("request over max_payload: Murmur %q, nats-server %q", got, want)
	}
	for _, s := range []*badServer{ref, ours} {
		s.connect(t)
		if a := ask(t, s.nc, "$JS.API.INFO", ""); a != (apiAnswer{}) {
			t.Errorf("%s after an oversized request: %v", s.name, a)
		}
	}
}

// fillDisk publishes 1 KiB messages into stream F until one is refused
// and returns how many were stored and the refusal.
func fillDisk(t *testing.T, s *badServer) (int, apiAnswer) {
	t.Helper()
	payload := []byte(strings.Repeat("x", 1024))
	for i := 1; i <= 1000; i++ {
		m, err := s.nc.Request("f.x", payload, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: publish %d: %v", s.name, i, err)
		}
		var r struct {
			Seq   uint64     `json:"seq"`
			Error *apiAnswer `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("%s: %q", s.name, m.Data)
		}
		if r.Error != nil {
			return i - 1, *r.Error
		}
		if r.Seq != uint64(i) {
			t.Fatalf("%s: publish %d got seq %d", s.name, i, r.Seq)
		}
	}
	t.Fatalf("%s: 1000 KiB stored under a 64 KiB max_file_store", s.name)
	return 0, apiAnswer{}
}

// TestBadInputDiskFull: a 64 KiB max_file_store. A stream asking for more
// is refused, publishes past the limit get nats-server's error (never a
// crash), and the store is whole after a kill and restart.
func TestBadInputDiskFull(t *testing.T) {
	const limit = "max_file_store: 65536"
	ref, ours := startBadPair(t, limit)
	for _, st := range []struct{ name, subject, body string }{
		{"max_bytes over max_file_store", "$JS.API.STREAM.CREATE.G", `{"name":"G","subjects":["g"],"max_bytes":1048576}`},
		{"create F", "$JS.API.STREAM.CREATE.F", `{"name":"F","subjects":["f.>"]}`},
	} {
		if got, want := ask(t, ours.nc, st.subject, st.body), ask(t, ref.nc, st.subject, st.body); got != want {
			t.Errorf("%s:\n  Murmur      %v\n  nats-server %v", st.name, got, want)
		}
	}
	refN, refErr := fillDisk(t, ref)
	n, gotErr := fillDisk(t, ours)
	t.Logf("stored before the refusal: Murmur %d, nats-server %d", n, refN)
	if gotErr != refErr {
		t.Errorf("publish past max_file_store:\n  Murmur      %v\n  nats-server %v", gotErr, refErr)
	}
	if n == 0 || n > 64 {
		t.Errorf("Murmur stored %d KiB messages under a 64 KiB limit", n)
	}

	// Killed and restarted on the same store: every stored message is
	// there, the limit still holds, and a purge makes room.
	ours.stop()
	ours = startBadMurmur(t, ours.sd, badConf(t, ours.sd, limit))
	js, err := njs.New(ours.nc)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(c, "F")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.CachedInfo().State; st.Msgs != uint64(n) || st.FirstSeq != 1 || st.LastSeq != uint64(n) {
		t.Fatalf("after restart: %+v, want 1..%d", st, n)
	}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := s.GetMsg(c, seq)
		if err != nil || len(m.Data) != 1024 || m.Subject != "f.x" {
			t.Fatalf("seq %d after restart: %v", seq, err)
		}
	}
	if _, again := fillDisk(t, ours); again != gotErr {
		t.Errorf("after restart the full store answers %v, want %v", again, gotErr)
	}
	if err := s.Purge(c); err != nil {
		t.Fatal(err)
	}
	if a, err := js.Publish(c, "f.x", []byte("room again")); err != nil || a.Sequence != uint64(n)+1 {
		t.Fatalf("publish after purge: %+v %v, want seq %d", a, err, n+1)
	}
}
