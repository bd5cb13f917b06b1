package broker

import (
	"bytes"
	"testing"

	"github.com/murmurmq/murmur/mux"
)

// A delivery crosses a route and comes out as it went in; anything else
// is left as it is.
func TestRouteMatchRoundTrip(t *testing.T) {
	m := &mux.Msg{Subject: []byte("orders.5"), Match: []byte("_INBOX.x.y"), Reply: []byte("$JS.ACK.ORDERS.pull.1.5.5.1700000000000000000.0")}
	if !m.RoutesMatch() {
		t.Fatal("a delivery with an ack reply must cross routes")
	}
	r := matchOverRoute(m)
	if string(r.Subject) != "_INBOX.x.y" || string(r.Reply) != "$JS.ACK.ORDERS.pull.1.5.5.1700000000000000000.0@orders.5" || r.Match != nil {
		t.Fatalf("over the route: %q %q", r.Subject, r.Reply)
	}
	var got mux.Msg
	got.Subject, got.Reply = r.Subject, r.Reply
	unmatchRouted(&got, r.Subject, r.Reply)
	if string(got.Subject) != "orders.5" || string(got.Match) != "_INBOX.x.y" || string(got.Reply) != string(m.Reply) {
		t.Fatalf("received: %q %q %q", got.Subject, got.Match, got.Reply)
	}
	for _, reply := range []string{"", "_INBOX.a@b", "$JS.ACK.a.b@c", "$JS.ACK.S.C.1.2.3.4.5@", "$JS.ACKX.1.2.3.4.5.6.7.8@x"} {
		var p mux.Msg
		p.Subject, p.Reply, p.Match = []byte("s"), []byte(reply), []byte("stale")
		unmatchRouted(&p, p.Subject, p.Reply)
		if p.Match != nil || string(p.Subject) != "s" || string(p.Reply) != reply {
			t.Errorf("reply %q: %q %q %q", reply, p.Subject, p.Match, p.Reply)
		}
	}
	if (&mux.Msg{Match: []byte("i"), Reply: []byte("_INBOX.r")}).RoutesMatch() {
		t.Error("a Match message without an ack reply must stay on its broker")
	}
}

// FuzzRouteMatch: whatever the subjects, what is split never panics and a
// delivery's subject comes back whole.
func FuzzRouteMatch(f *testing.F) {
	f.Add([]byte("orders.5"), []byte("_INBOX.x"), []byte("$JS.ACK.S.C.1.2.3.4.5"))
	f.Add([]byte("a@b"), []byte("i"), []byte("$JS.ACK.S.C.1.2.3.4.5@x"))
	f.Fuzz(func(t *testing.T, subject, match, reply []byte) {
		var p mux.Msg
		unmatchRouted(&p, match, reply)
		m := &mux.Msg{Subject: subject, Match: match, Reply: reply}
		if len(match) == 0 || !m.RoutesMatch() || bytes.IndexByte(reply, '@') >= 0 || len(subject) == 0 {
			return
		}
		r := matchOverRoute(m)
		var got mux.Msg
		unmatchRouted(&got, r.Subject, r.Reply)
		if string(got.Subject) != string(subject) || string(got.Reply) != string(reply) || string(got.Match) != string(match) {
			t.Fatalf("%q %q %q came back as %q %q %q", subject, match, reply, got.Subject, got.Match, got.Reply)
		}
	})
}
