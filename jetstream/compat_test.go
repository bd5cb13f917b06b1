package jetstream_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// startNatsServer runs the reference nats-server with JetStream.
func startNatsServer(t *testing.T) *nats.Conn {
	port := testutil.FreePort(t)
	cmd := exec.Command(testutil.NatsServer(t), "-js", "-sd", t.TempDir(), "-p", fmt.Sprint(port), "-a", "127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var nc *nats.Conn
	testutil.Eventually(t, 10*time.Second, "nats-server listening", func() bool {
		var err error
		nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
		return err == nil
	})
	t.Cleanup(nc.Close)
	return nc
}

// errCode sends a request and returns the JetStream err_code of the
// answer (0: success).
func errCode(t *testing.T, nc *nats.Conn, subject, body string) int {
	t.Helper()
	m, err := nc.Request(subject, []byte(body), 3*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var r struct {
		Error *struct {
			ErrCode int `json:"err_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("%s: %q: %v", subject, m.Data, err)
	}
	if r.Error == nil {
		return 0
	}
	return r.Error.ErrCode
}

// TestErrorCodesSideBySide sends the same bad requests to Murmur and to
// nats-server 2.15 and compares the err_code of each answer.
func TestErrorCodesSideBySide(t *testing.T) {
	ref := startNatsServer(t)
	n := startNode(t, t.TempDir())
	ours, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	steps := []struct{ name, subject, body string }{
		{"create S", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"create S again, same", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"create S, different", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.x"]}`},
		{"overlap", "$JS.API.STREAM.CREATE.T", `{"name":"T","subjects":["s.a"]}`},
		{"name mismatch", "$JS.API.STREAM.CREATE.U", `{"name":"V"}`},
		{"bad json", "$JS.API.STREAM.CREATE.W", `{"name":`},
		{"replicas 3", "$JS.API.STREAM.CREATE.R", `{"name":"R","num_replicas":3}`},
		{"info missing", "$JS.API.STREAM.INFO.NOPE", ``},
		{"delete missing", "$JS.API.STREAM.DELETE.NOPE", ``},
		{"purge missing", "$JS.API.STREAM.PURGE.NOPE", ``},
		{"msg get missing stream", "$JS.API.STREAM.MSG.GET.NOPE", `{"seq":1}`},
		{"msg get no message", "$JS.API.STREAM.MSG.GET.S", `{"seq":99}`},
		{"msg get last by subject none", "$JS.API.STREAM.MSG.GET.S", `{"last_by_subj":"s.none"}`},
		{"consumer info missing", "$JS.API.CONSUMER.INFO.S.nope", ``},
		{"consumer on missing stream", "$JS.API.CONSUMER.INFO.NOPE.c", ``},
		{"consumer delete missing", "$JS.API.CONSUMER.DELETE.S.nope", ``},
		{"consumer create", "$JS.API.CONSUMER.CREATE.S.c", `{"stream_name":"S","config":{"name":"c","ack_policy":"explicit"}}`},
		{"consumer create exists differently", "$JS.API.CONSUMER.CREATE.S.c", `{"stream_name":"S","config":{"name":"c","ack_policy":"explicit","ack_wait":5000000000},"action":"create"}`},
		{"consumer update missing", "$JS.API.CONSUMER.CREATE.S.d", `{"stream_name":"S","config":{"name":"d","ack_policy":"explicit"},"action":"update"}`},
		{"consumer durable mismatch", "$JS.API.CONSUMER.DURABLE.CREATE.S.x", `{"stream_name":"S","config":{"durable_name":"y","ack_policy":"explicit"}}`},
		{"consumer no config", "$JS.API.CONSUMER.CREATE.S.e", `{"stream_name":"S"}`},
		{"consumer name and durable differ", "$JS.API.CONSUMER.CREATE.S.f", `{"stream_name":"S","config":{"name":"f","durable_name":"g","ack_policy":"explicit"}}`},
		{"consumer both filters", "$JS.API.CONSUMER.CREATE.S.h", `{"stream_name":"S","config":{"name":"h","filter_subject":"s.a","filter_subjects":["s.b"],"ack_policy":"explicit"}}`},
		{"consumer list missing stream", "$JS.API.CONSUMER.LIST.NOPE", ``},
		{"stream delete", "$JS.API.STREAM.DELETE.S", ``},
	}
	for _, st := range steps {
		want := errCode(t, ref, st.subject, st.body)
		got := errCode(t, ours, st.subject, st.body)
		if got != want {
			t.Errorf("%s: Murmur err_code %d, nats-server %d", st.name, got, want)
		}
	}
}

// TestKeyValue: nats.go's key-value layer over a stream (create, put,
// get by direct get, update with revision, delete, history).
func TestKeyValue(t *testing.T) {
	n := startNode(t, t.TempDir())
	js := n.js(t)
	c := ctx(t)
	kv, err := js.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "cfg", History: 3})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	rev, err := kv.Put(c, "a", []byte("1"))
	if err != nil || rev != 1 {
		t.Fatalf("put: %d %v", rev, err)
	}
	if _, err := kv.Put(c, "a", []byte("2")); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(c, "a")
	if err != nil || string(e.Value()) != "2" || e.Revision() != 2 {
		t.Fatalf("get: %v %v", e, err)
	}
	if _, err := kv.Update(c, "a", []byte("3"), 1); err == nil {
		t.Fatal("update with a stale revision succeeded")
	}
	if _, err := kv.Update(c, "a", []byte("3"), 2); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := kv.Create(c, "a", []byte("x")); err == nil {
		t.Fatal("create of an existing key succeeded")
	}
	if _, err := kv.Get(c, "missing"); err != njs.ErrKeyNotFound {
		t.Fatalf("missing key: %v", err)
	}
	if err := kv.Delete(c, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(c, "a"); err != njs.ErrKeyNotFound {
		t.Fatalf("deleted key: %v", err)
	}
	if _, err := kv.Create(c, "a", []byte("again")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}
