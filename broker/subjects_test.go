package broker_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
)

// publishN publishes n empty messages to subject and waits until the
// broker has read them (the flush's PONG comes after).
func publishN(t *testing.T, nc *nats.Conn, subject string, n int) {
	t.Helper()
	for range n {
		if err := nc.Publish(subject, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestTopSubjects: the sampler ranks each account's subjects by rate,
// keeps the same subject of two accounts apart, and never reports the
// system account.
func TestTopSubjects(t *testing.T) {
	srv := authServer(t, &broker.AuthOptions{
		Accounts: []broker.Account{
			{Name: "SYS", Users: []broker.User{{Name: "admin", Password: "s"}}},
			{Name: "A", Users: []broker.User{{Name: "a", Password: "a"}}},
			{Name: "B", Users: []broker.User{{Name: "b", Password: "b"}}},
		},
		SystemAccount: "SYS",
	})
	const k = broker.SubjectSampleEvery
	a, b, admin := login(t, srv, "a", "a"), login(t, srv, "b", "b"), login(t, srv, "admin", "s")
	publishN(t, a, "orders.new", 60*k)
	publishN(t, b, "orders.new", 30*k)
	publishN(t, a, "orders.paid", 10*k)
	publishN(t, admin, "sys.busy", 100*k)

	top := srv.TopSubjects(20)
	want := []struct{ acc, subj string }{{"A", "orders.new"}, {"B", "orders.new"}, {"A", "orders.paid"}}
	if len(top) != len(want) {
		t.Fatalf("top subjects %+v, want %v", top, want)
	}
	for i, w := range want {
		if top[i].Account != w.acc || top[i].Subject != w.subj || top[i].Rate <= 0 {
			t.Errorf("top[%d] = %+v, want %s %s", i, top[i], w.acc, w.subj)
		}
	}
	if got := srv.TopSubjects(1); len(got) != 2 || got[0].Subject != "orders.new" || got[1].Subject != "orders.new" {
		t.Errorf("one per account: %+v", got)
	}
}

// TestTopSubjectsOff: with NoSubjectSampling nothing is counted.
func TestTopSubjectsOff(t *testing.T) {
	o := testOptions()
	o.NoSubjectSampling = true
	srv := startServer(t, o, nil)
	nc, err := tryConnect(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publishN(t, nc, "quiet", 10*broker.SubjectSampleEvery)
	if top := srv.TopSubjects(20); len(top) != 0 {
		t.Fatalf("sampling off, yet %+v", top)
	}
}
