package monitor_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// publishN publishes n messages to subject and waits until the broker
// has read them.
func publishN(t *testing.T, nc *nats.Conn, subject string, n int) {
	t.Helper()
	for range n {
		if err := nc.Publish(subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestSubjz: /murmur/subjz ranks the subjects clients publish to by
// sampled rate, leaves the system account out, honours limit, and
// refuses a malformed one as the other endpoints do.
func TestSubjz(t *testing.T) {
	srv := startBroker(t, "subjz")
	m := startMonitor(t, srv, monitor.Config{})
	app, sys := connect(t, srv), connectSys(t, srv)
	const k = broker.SubjectSampleEvery
	publishN(t, app, "orders.created", 50*k)
	publishN(t, app, "orders.paid", 20*k)
	publishN(t, sys, "sys.noise", 80*k)
	c := client(t)

	var sz monitor.Subjz
	getJSON(t, c, m, "/murmur/subjz", &sz)
	if !sz.Enabled || sz.SampleEvery != k || sz.WindowSeconds != broker.SubjectWindow.Seconds() || sz.Name != "subjz" {
		t.Errorf("subjz header %+v", sz)
	}
	if len(sz.Subjects) != 2 || sz.Subjects[0].Subject != "orders.created" || sz.Subjects[1].Subject != "orders.paid" ||
		sz.Subjects[0].Account != broker.GlobalAccount || sz.Subjects[0].Rate <= sz.Subjects[1].Rate {
		t.Errorf("subjects %+v, want orders.created then orders.paid in $G", sz.Subjects)
	}
	getJSON(t, c, m, "/murmur/subjz?limit=1", &sz)
	if len(sz.Subjects) != 1 || sz.Subjects[0].Subject != "orders.created" {
		t.Errorf("limit=1: %+v", sz.Subjects)
	}
	resp, body := get(t, c, m, "/murmur/subjz?limit=abc")
	if resp.StatusCode != 400 || !strings.Contains(string(body), "Error decoding int for 'limit'") {
		t.Errorf("limit=abc: %d %s", resp.StatusCode, body)
	}
}

// TestSubjzOff: with subject_sampling off, /murmur/subjz says so and
// lists nothing.
func TestSubjzOff(t *testing.T) {
	o := testOptions()
	o.Name = "quiet"
	o.NoSubjectSampling = true
	srv := started(t, newBrokerWith(t, o))
	m := startMonitor(t, srv, monitor.Config{})
	publishN(t, connect(t, srv), "orders.created", 10*broker.SubjectSampleEvery)
	var sz monitor.Subjz
	getJSON(t, client(t), m, "/murmur/subjz", &sz)
	if sz.Enabled || sz.Subjects == nil || len(sz.Subjects) != 0 {
		t.Errorf("sampling off: %+v", sz)
	}
}
