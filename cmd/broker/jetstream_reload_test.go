package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

const jsReloadConf = `listen: 127.0.0.1:-1
jetstream { store_dir: %q }
accounts {
  A: { jetstream: %s, users: [{user: a, password: a}] }
  B: { jetstream: %s, users: [{user: b, password: b}] }
  %s
}
`

// TestJetStreamAccountsReload: a reload that enables JetStream in an
// account starts it there (with the streams it had on disk), one that
// disables it answers 10039 there, changed limits apply in place, and an
// account added by the reload gets JetStream.
func TestJetStreamAccountsReload(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	conf := writeConf(t, dir, fmt.Sprintf(jsReloadConf, store, "enabled", "disabled", ""))
	cfg, err := parseFlags([]string{"-c", conf}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(core)
	cfg.opts.Logger = log
	srv, err := broker.New(cfg.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	svc := jetstream.NewService(srv.ID())
	stop, err := startJetStream(&cfg.js, svc, srv, "", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	code := func(user, subject, body string) int {
		t.Helper()
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, user))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		m, err := nc.Request(subject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s %s: %v", user, subject, err)
		}
		var r struct {
			Error *struct {
				ErrCode int `json:"err_code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		if r.Error == nil {
			return 0
		}
		return r.Error.ErrCode
	}
	reload := func(a, b, extra string) {
		t.Helper()
		writeConf(t, dir, fmt.Sprintf(jsReloadConf, store, a, b, extra))
		cfg = reload(cfg, srv, nil, log)
		for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).TakeAll() {
			t.Fatalf("reload logged an error: %s %v", e.Message, e.ContextMap())
		}
	}

	if c := code("a", "$JS.API.STREAM.CREATE.SA", `{"name":"SA","subjects":["sa"]}`); c != 0 {
		t.Fatalf("A create: %d", c)
	}
	if c := code("b", "$JS.API.INFO", ""); c != 10039 {
		t.Fatalf("B before: %d, want 10039", c)
	}

	reload("{ max_streams: 1 }", "enabled", `C: { jetstream: enabled, users: [{user: c, password: c}] }`)
	if c := code("a", "$JS.API.STREAM.INFO.SA", ""); c != 0 {
		t.Errorf("A's stream after the reload: %d", c)
	}
	if c := code("a", "$JS.API.STREAM.CREATE.SA2", `{"name":"SA2","subjects":["sa2"]}`); c != 10027 {
		t.Errorf("A over its new max_streams: %d, want 10027", c)
	}
	if c := code("b", "$JS.API.STREAM.CREATE.SB", `{"name":"SB","subjects":["sb"]}`); c != 0 {
		t.Errorf("B after enabling: %d", c)
	}
	if c := code("c", "$JS.API.INFO", ""); c != 0 {
		t.Errorf("C, added by the reload: %d", c)
	}
	if got := svc.Accounts(); fmt.Sprint(got) != "[A B C]" {
		t.Errorf("JetStream accounts %v, want [A B C]", got)
	}

	reload("enabled", "disabled", "")
	if c := code("b", "$JS.API.INFO", ""); c != 10039 {
		t.Errorf("B after disabling: %d, want 10039", c)
	}
	if c := code("a", "$JS.API.STREAM.CREATE.SA2", `{"name":"SA2","subjects":["sa2"]}`); c != 0 {
		t.Errorf("A without max_streams: %d", c)
	}
	reload("enabled", "enabled", "")
	if c := code("b", "$JS.API.STREAM.INFO.SB", ""); c != 0 {
		t.Errorf("B's stream, enabled again: %d", c)
	}
}
