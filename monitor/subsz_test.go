package monitor_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/monitor"
	"github.com/murmurmq/murmur/pubsub"
)

// TestSubszTestMatchesIndex checks /subsz?test=<subject> against the full
// subscription list filtered by the wildcard rules, for several subjects.
func TestSubszTestMatchesIndex(t *testing.T) {
	srv := startBroker(t, "subs")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	a, b := connect(t, srv), connect(t, srv)
	for _, s := range []string{"foo.bar", "foo.*", "foo.>", ">", "baz", "*.bar.baz"} {
		if _, err := a.Subscribe(s, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"foo.bar", "foo.bar", "other"} {
		if _, err := b.QueueSubscribe(s, "workers", func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	for _, nc := range []*nats.Conn{a, b} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	var full monitor.Subsz
	getJSON(t, c, m, "/subsz?subs=1", &full)
	if full.NumSubs != srv.Mux().Index().Count() || full.NumSubs != 9 || full.Total != 9 || len(full.Subs) != 9 {
		t.Fatalf("subsz: num %d total %d listed %d, index %d", full.NumSubs, full.Total, len(full.Subs), srv.Mux().Index().Count())
	}
	key := func(d monitor.SubDetail) string { return fmt.Sprintf("%d/%s/%s/%s", d.Cid, d.Sid, d.Subject, d.Queue) }
	for _, subject := range []string{"foo.bar", "foo.baz", "foo.bar.baz", "x.bar.baz", "baz", "other", "nothing.here"} {
		var want []string
		for _, d := range full.Subs {
			if pubsub.SubjectMatches(d.Subject, subject) {
				want = append(want, key(d))
			}
		}
		var sz monitor.Subsz
		getJSON(t, c, m, "/subsz?test="+subject, &sz)
		var got []string
		for _, d := range sz.Subs {
			got = append(got, key(d))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) || sz.Total != len(want) {
			t.Errorf("test=%s: got %v (total %d), want %v", subject, got, sz.Total, want)
		}
	}

	// A queue group's members are listed with their group.
	var q monitor.Subsz
	getJSON(t, c, m, "/subsz?test=other", &q)
	if len(q.Subs) != 2 || q.Subs[1].Queue != "workers" {
		t.Errorf("test=other: %+v", q.Subs)
	}
	// Without subs=1 only the counters are reported.
	var counts monitor.Subsz
	getJSON(t, c, m, "/subsz", &counts)
	if counts.Subs != nil || counts.NumSubs != 9 || counts.NumInserts < 9 || counts.NumMatches == 0 {
		t.Errorf("subsz counters: %+v", counts)
	}
	// Paging the listing.
	var page monitor.Subsz
	getJSON(t, c, m, "/subsz?subs=1&offset=8&limit=5", &page)
	if len(page.Subs) != 1 || page.Total != 9 || key(page.Subs[0]) != key(full.Subs[8]) {
		t.Errorf("subsz page: %+v", page)
	}
}
