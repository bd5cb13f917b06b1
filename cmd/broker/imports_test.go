//go:build unix

package main

import (
	"errors"
	"io"
	"net"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// mappingConf: B imports A's streams and service with `to` mappings, in
// the form nats-server reads.
const mappingConf = `
accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [ {stream: "a.events.>"}, {stream: "m.*.*"}, {service: "svc.*.*"} ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: "a.events.>"}, to: "b.>"}
      {stream: {account: A, subject: "m.*.*"}, to: "n.$2.$1"}
      {service: {account: A, subject: "svc.*.*"}, to: "req.{{wildcard(2)}}.*"}
    ]
  }
}
`

// TestConfigImportTo: `to` on stream imports, and with wildcards on
// service imports, reaches the options as written.
func TestConfigImportTo(t *testing.T) {
	cfg, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), mappingConf)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Import{
		{Account: "A", Stream: "a.events.>", To: "b.>"},
		{Account: "A", Stream: "m.*.*", To: "n.$2.$1"},
		{Account: "A", Service: "svc.*.*", To: "req.{{wildcard(2)}}.*"},
	}
	if got := cfg.opts.Auth.Accounts[1].Imports; !reflect.DeepEqual(got, want) {
		t.Fatalf("imports %+v\nwant %+v", got, want)
	}
}

// TestImportMappingAsNatsServer runs mappingConf on Murmur and on a real
// nats-server: the same publishes in A arrive in B on the same subjects,
// and the same request from B reaches A on the same subject. Without the
// binary (NATS_SERVER, else nats-server on PATH, else ~/go/bin) the test
// is skipped, or fails when CI is set.
func TestImportMappingAsNatsServer(t *testing.T) {
	bin := natsServerBinary(t)
	path := writeConf(t, t.TempDir(), mappingConf)

	_, srv := startFromFile(t, path)

	ours := observeMappings(t, srv.ClientURL())
	theirs := observeMappings(t, startNatsServer(t, bin, path))
	want := []string{"b.x", "b.x.y.z", "n.q.p", "b.end", "request reached svc.q.p"}
	if !reflect.DeepEqual(theirs, want) {
		t.Errorf("nats-server: %q, want %q", theirs, want)
	}
	if !reflect.DeepEqual(ours, theirs) {
		t.Errorf("murmur: %q\nnats-server: %q", ours, theirs)
	}
}

// observeMappings publishes in A and lists the subjects B receives (up to
// b.end, the last), then the subject A's responder sees for B's request
// to req.p.q.
func observeMappings(t *testing.T, url string) []string {
	t.Helper()
	a := connect(t, url, nats.UserInfo("a", "a"))
	b := connect(t, url, nats.UserInfo("b", "b"))
	if _, err := a.Subscribe("svc.*.*", func(m *nats.Msg) { _ = m.Respond([]byte(m.Subject)) }); err != nil {
		t.Fatal(err)
	}
	sub, err := b.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{a, b} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, subj := range []string{"a.events.x", "a.events.x.y.z", "m.p.q", "a.other", "a.events.end"} {
		if err := a.Publish(subj, nil); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) == 0 || got[len(got)-1] != "b.end" {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: after %q: %v", url, got, err)
		}
		got = append(got, m.Subject)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	m, err := b.Request("req.p.q", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: request: %v", url, err)
	}
	return append(got, "request reached "+string(m.Data))
}

// natsServerBinary is the nats-server to compare with (testutil.NatsServer).
var natsServerBinary = testutil.NatsServer

// startNatsServer runs bin with the config file on a free port and
// returns its client URL once it accepts connections.
func startNatsServer(t *testing.T, bin, conf string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-c", conf, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, "nats-server accepting clients", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("nats-server exited: %v\n%s", err, out.String())
		default:
		}
		nc, err := nats.Connect(url, nats.UserInfo("a", "a"), nats.NoReconnect())
		if err != nil {
			// A refusal is an answer too: the server is up (operator mode).
			return errors.Is(err, nats.ErrAuthorization)
		}
		nc.Close()
		return true
	})
	return url
}

// startFromFile starts a broker (not its cluster) from the config file at
// path on a random loopback port, closed at cleanup.
func startFromFile(t *testing.T, path string) (*config, *broker.Server) {
	t.Helper()
	cfg, err := parseFlags([]string{"-c", path, "-a", "127.0.0.1", "-p", "-1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := broker.New(cfg.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return cfg, srv
}
