package monitor_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/monitor"
)

// TestConnzPagingAndSorting gives five connections different numbers of
// subscriptions, messages and bytes in each direction, then checks every
// sort key's order (nats-server's: cid and start ascending, uptime from the
// newest, the rest largest first) and that pages tile the full list.
func TestConnzPagingAndSorting(t *testing.T) {
	srv := startBroker(t, "sorting")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	const n = 5
	conns := make([]*nats.Conn, n)
	for i := range conns {
		conns[i] = connect(t, srv, nats.Name(fmt.Sprintf("c%d", i)))
	}
	// Connection i: i+1 subscriptions on its own subjects; publishes
	// (n-i)*10 messages of i+1 bytes to connection (i+1)%n's first subject.
	for i, nc := range conns {
		for s := 0; s <= i; s++ {
			if _, err := nc.Subscribe(fmt.Sprintf("c%d.s%d", i, s), func(*nats.Msg) {}); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i, nc := range conns {
		payload := bytes.Repeat([]byte("p"), i+1)
		for range (n - i) * 10 {
			if err := nc.Publish(fmt.Sprintf("c%d.s0", (i+1)%n), payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var all monitor.Connz
	eventually(t, 5*time.Second, "connz to count every delivery", func() bool {
		getJSON(t, c, m, "/connz", &all)
		var out int64
		for _, ci := range all.Conns {
			out += ci.OutMsgs
		}
		return out == 150
	})

	// Paging over the cid order tiles the list exactly.
	var paged []uint64
	for off := 0; off < n; off += 2 {
		var page monitor.Connz
		getJSON(t, c, m, fmt.Sprintf("/connz?limit=2&offset=%d", off), &page)
		if page.Total != n || page.Offset != off || page.Limit != 2 || page.NumConns != min(2, n-off) || len(page.Conns) != page.NumConns {
			t.Fatalf("page at %d: total %d offset %d limit %d num %d", off, page.Total, page.Offset, page.Limit, page.NumConns)
		}
		for _, ci := range page.Conns {
			paged = append(paged, ci.Cid)
		}
	}
	var past monitor.Connz
	getJSON(t, c, m, "/connz?offset=10", &past)
	if past.NumConns != 0 || len(past.Conns) != 0 || past.Total != n {
		t.Errorf("offset past the end: %+v", past)
	}
	cids := make([]uint64, 0, n)
	for _, ci := range all.Conns {
		cids = append(cids, ci.Cid)
	}
	if !slices.IsSorted(cids) || !slices.Equal(paged, cids) {
		t.Fatalf("paged cids %v, full list %v", paged, cids)
	}

	// Each key, with the order it must produce (ties broken by cid).
	byName := func(names ...int) []string {
		var s []string
		for _, i := range names {
			s = append(s, fmt.Sprintf("c%d", i))
		}
		return s
	}
	cases := []struct {
		sort string
		want []string // nil: check only the ordering property
		less func(a, b *monitor.ConnInfo) bool
	}{
		{"cid", byName(0, 1, 2, 3, 4), nil},
		{"start", byName(0, 1, 2, 3, 4), nil},
		{"subs", byName(4, 3, 2, 1, 0), nil},
		// Publisher i sent (n-i)*10 messages of i+1 bytes: 50x1, 40x2,
		// 30x3, 20x4, 10x5 bytes.
		{"msgs_from", byName(0, 1, 2, 3, 4), nil},
		{"bytes_from", byName(2, 1, 3, 0, 4), nil},
		// Connection j received publisher (j-1)'s messages.
		{"msgs_to", byName(1, 2, 3, 4, 0), nil},
		{"bytes_to", byName(3, 2, 4, 0, 1), nil},
		{"pending", nil, func(a, b *monitor.ConnInfo) bool { return a.Pending > b.Pending }},
		{"last", nil, func(a, b *monitor.ConnInfo) bool { return a.LastActivity.After(b.LastActivity) }},
		{"idle", nil, func(a, b *monitor.ConnInfo) bool { return a.LastActivity.Before(b.LastActivity) }},
		{"uptime", nil, func(a, b *monitor.ConnInfo) bool { return a.Start.After(b.Start) }},
	}
	for _, tc := range cases {
		var cz monitor.Connz
		getJSON(t, c, m, "/connz?sort="+tc.sort, &cz)
		if len(cz.Conns) != n {
			t.Fatalf("sort=%s: %d connections", tc.sort, len(cz.Conns))
		}
		var names []string
		for _, ci := range cz.Conns {
			names = append(names, ci.Name)
		}
		if tc.want != nil && !slices.Equal(names, tc.want) {
			t.Errorf("sort=%s: %v, want %v", tc.sort, names, tc.want)
		}
		if tc.less != nil {
			for i := 1; i < len(cz.Conns); i++ {
				if tc.less(cz.Conns[i], cz.Conns[i-1]) {
					t.Errorf("sort=%s: %s before %s out of order", tc.sort, names[i-1], names[i])
				}
			}
		}
		// Paging applies after sorting.
		var page monitor.Connz
		getJSON(t, c, m, "/connz?limit=2&offset=1&sort="+tc.sort, &page)
		if len(page.Conns) != 2 || page.Conns[0].Name != names[1] || page.Conns[1].Name != names[2] {
			t.Errorf("sort=%s page [1,3): %v", tc.sort, page.Conns)
		}
	}

	// Closed connections: state=closed and all, with the close reason.
	closedCID := all.Conns[0].Cid
	conns[0].Close()
	var closed monitor.Connz
	eventually(t, 5*time.Second, "the closed connection in connz?state=closed", func() bool {
		getJSON(t, c, m, "/connz?state=closed", &closed)
		return closed.Total == 1
	})
	cc := closed.Conns[0]
	if cc.Cid != closedCID || cc.Reason != "Client Closed" || cc.Stop == nil || cc.Stop.Before(cc.Start) || cc.Subs != nil {
		t.Errorf("closed connection: cid %d reason %q stop %v", cc.Cid, cc.Reason, cc.Stop)
	}
	var open, both, one monitor.Connz
	getJSON(t, c, m, "/connz", &open)
	getJSON(t, c, m, "/connz?state=all&sort=cid", &both)
	getJSON(t, c, m, fmt.Sprintf("/connz?state=all&cid=%d", closedCID), &one)
	if open.Total != n-1 || both.Total != n || both.Conns[0].Cid != closedCID || one.Total != 1 || one.Conns[0].Reason == "" {
		t.Errorf("open %d, all %d (first %d), cid=%d %d", open.Total, both.Total, both.Conns[0].Cid, closedCID, one.Total)
	}
	for _, key := range []string{"stop", "reason"} {
		var cz monitor.Connz
		getJSON(t, c, m, "/connz?state=closed&sort="+key, &cz)
		if cz.Total != 1 {
			t.Errorf("closed sort=%s: total %d", key, cz.Total)
		}
	}
}

// TestConnzSortByRTT waits for the first PING round trip of three
// connections (sent two seconds after connect) and checks that sort=rtt
// lists the slowest first, as nats-server, and pages in that order.
func TestConnzSortByRTT(t *testing.T) {
	srv := startBroker(t, "rtt")
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)
	for range 3 {
		connect(t, srv)
	}
	rtt := func(ci *monitor.ConnInfo) time.Duration {
		d, err := time.ParseDuration(ci.RTT)
		if err != nil {
			t.Fatalf("cid %d: rtt %q: %v", ci.Cid, ci.RTT, err)
		}
		return d
	}
	var cz monitor.Connz
	eventually(t, 10*time.Second, "every connection to have an rtt", func() bool {
		getJSON(t, c, m, "/connz?sort=rtt", &cz)
		for _, ci := range cz.Conns {
			if ci.RTT == "" {
				return false
			}
		}
		return len(cz.Conns) == 3
	})
	for i := 1; i < len(cz.Conns); i++ {
		if rtt(cz.Conns[i]) > rtt(cz.Conns[i-1]) {
			t.Errorf("sort=rtt: cid %d (%s) before cid %d (%s)", cz.Conns[i-1].Cid, cz.Conns[i-1].RTT, cz.Conns[i].Cid, cz.Conns[i].RTT)
		}
	}
	var page monitor.Connz
	getJSON(t, c, m, "/connz?sort=rtt&offset=1&limit=1", &page)
	if len(page.Conns) != 1 || page.Conns[0].Cid != cz.Conns[1].Cid {
		t.Errorf("sort=rtt page [1,2): %+v, want cid %d", page.Conns, cz.Conns[1].Cid)
	}
}
