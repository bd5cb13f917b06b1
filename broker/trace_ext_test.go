package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/murmurmq/murmur/broker"
)

// traced starts a broker whose trace lines (broker.TraceLevel) are
// observed, with set applied to its options.
func traced(t *testing.T, set func(*broker.Options)) (*broker.Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(broker.TraceLevel)
	o := testOptions()
	o.Logger, o.Trace = zap.New(core), true
	set(&o)
	return startServer(t, o, nil), logs
}

func traceLines(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.FilterLevelExact(broker.TraceLevel).All() {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}

// trace_headers traces a message's headers and not its payload; a message
// without headers has no payload line.
func TestTraceHeadersOnly(t *testing.T) {
	srv, logs := traced(t, func(o *broker.Options) { o.TraceHeaders = true })
	nc, err := tryConnect(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("h")
	m := nats.NewMsg("h")
	m.Header.Set("K", "v")
	m.Data = []byte("secret-body")
	nc.PublishMsg(m)
	nc.Publish("h", []byte("plain-body"))
	for i := 0; i < 2; i++ {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "HMSG traced", func() bool { return strings.Contains(traceLines(logs), "->> [MSG h 1 10]") })
	got := traceLines(logs)
	for _, want := range []string{"<<- [HPUB h 18 29]", `<<- MSG_PAYLOAD: ["NATS/1.0\r\nK: v\r\n\r\n"]`, "->> [HMSG h 1 18 29]", "<<- [PUB h 10]"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "body") {
		t.Errorf("trace_headers traced a payload:\n%s", got)
	}
}

// trace_verbose adds the system responder's traffic; plain trace does not.
func TestTraceVerboseSystem(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		srv, logs := traced(t, func(o *broker.Options) {
			o.TraceVerbose = verbose
			o.Auth = &broker.AuthOptions{Accounts: []broker.Account{
				{Name: broker.DefaultSystemAccount, Users: []broker.User{{Name: "admin", Password: "s"}}},
			}}
		})
		sys, err := srv.StartSystem(broker.SystemOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := login(t, srv, "admin", "s").Request("$SYS.REQ.SERVER.PING", nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		sys.Close()
		got := traceLines(logs)
		if !strings.Contains(got, "<<- [PUB $SYS.REQ.SERVER.PING _INBOX.") {
			t.Fatalf("the client's request is traced either way:\n%s", got)
		}
		if has := strings.Contains(got, "->> [MSG $SYS.REQ.SERVER.PING _INBOX."); has != verbose {
			t.Errorf("trace_verbose=%v: system responder's receipt traced=%v\n%s", verbose, has, got)
		}
	}
}
