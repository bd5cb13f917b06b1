package node

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestDataHeaderRoundTrip(t *testing.T) {
	v := string(appendData(nil, "n1", "abc", 42, KindBroadcast, 40))
	if v != "n1 abc 42 broadcast 40" {
		t.Fatalf("encoded %q", v)
	}
	d, err := decodeData(nats.Header{HeaderData: {v}}, []byte("p"))
	if err != nil || d.from != "n1" || d.session != "abc" || d.seq != 42 || d.kind != KindBroadcast || d.floor != 40 {
		t.Fatalf("decoded %+v, %v", d, err)
	}
	for _, bad := range []string{"", "n1 abc 42", "n1 abc 0 direct", "n1 abc 4 direct 5", "n1 abc 4 direct 1 extra", "n.1 abc 4 direct"} {
		if _, err := decodeData(nats.Header{HeaderData: {bad}}, nil); !errors.Is(err, errMalformed) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBatchDecode(t *testing.T) {
	h := nats.Header{HeaderData: {"n1 abc 7 direct 5"}, HeaderBatch: {"7:2,9:0,8:3"}}
	got, err := decodeBatch(h, []byte("aabbb"), nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("decoded %d entries, %v", len(got), err)
	}
	for i, w := range []struct {
		seq  uint64
		body string
	}{{7, "aa"}, {9, ""}, {8, "bbb"}} {
		if got[i].seq != w.seq || string(got[i].payload) != w.body || got[i].from != "n1" || got[i].floor != 5 {
			t.Fatalf("entry %d: %+v", i, got[i])
		}
	}
	// Without Murmur-Batch: one Data.
	if one, err := decodeBatch(nats.Header{HeaderData: {"n1 abc 7 direct"}}, []byte("x"), nil); err != nil || len(one) != 1 {
		t.Fatalf("single: %v %v", one, err)
	}
	for _, bad := range []struct{ list, body string }{
		{"7:2", "aab"}, {"7:3", "aa"}, {"0:1", "a"}, {"7", "a"}, {"7:x", "a"}, {"4:1", "a"}, {"7:-1", ""},
	} {
		h := nats.Header{HeaderData: {"n1 abc 7 direct 5"}, HeaderBatch: {bad.list}}
		if _, err := decodeBatch(h, []byte(bad.body), nil); !errors.Is(err, errMalformed) {
			t.Errorf("batch %q over %q accepted", bad.list, bad.body)
		}
	}
}

func TestSeqList(t *testing.T) {
	for _, tc := range []struct {
		in   []uint64
		want string
	}{
		{[]uint64{7}, "7"},
		{[]uint64{9, 7}, "7,9"},
		{[]uint64{5, 3, 4, 8, 11, 6, 10}, "3-6,8,10-11"},
		{[]uint64{2, 2, 3}, "2-3"},
	} {
		got := string(appendSeqList(nil, slices.Clone(tc.in)))
		if got != tc.want {
			t.Errorf("%v: got %q want %q", tc.in, got, tc.want)
		}
		back, err := parseSeqList(got, nil)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		want := slices.Compact(slices.Sorted(slices.Values(tc.in)))
		if !slices.Equal(back, want) {
			t.Errorf("%q parsed to %v", got, back)
		}
	}
	for _, bad := range []string{"", "0", "a", "5-3", "1-", ",", "1,,2", "1-70000", "-1", "18446744073709551616"} {
		if _, err := parseSeqList(bad, nil); !errors.Is(err, errMalformed) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestDedup(t *testing.T) {
	d := newDedup(8)
	if v := d.check("a", "s1", 5, 1); v != fresh {
		t.Fatal(v)
	}
	if v := d.check("a", "s1", 5, 1); v != dupPending {
		t.Fatal(v)
	}
	d.acked("a", "s1", 5)
	if v := d.check("a", "s1", 5, 1); v != dupAcked {
		t.Fatal(v)
	}
	// Below the sender's floor: settled, a duplicate.
	if v := d.check("a", "s1", 9, 7); v != fresh {
		t.Fatal(v)
	}
	if v := d.check("a", "s1", 6, 7); v != dupAcked {
		t.Fatal(v)
	}
	// A new session (restart) starts over.
	if v := d.check("a", "s2", 5, 1); v != fresh {
		t.Fatal(v)
	}
	// The window caps memory, keeping the newest.
	for s := uint64(10); s < 100; s++ {
		d.check("b", "s", s, 1)
	}
	if n := len(d.senders["b"].seen); n > 8 {
		t.Fatalf("window holds %d", n)
	}
	if v := d.check("b", "s", 99, 1); v != dupPending {
		t.Fatal(v)
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker()
	now := time.Now()
	var ps []*pending
	for i := 0; i < 5; i++ {
		p := &pending{seq: tr.assign(), kind: KindDirect, to: "b", deadline: now.Add(time.Duration(i) * time.Second)}
		tr.add(p)
		ps = append(ps, p)
	}
	bc := &pending{seq: tr.assign(), kind: KindBroadcast, waiting: map[string]struct{}{"b": {}, "c": {}}, deadline: now}
	tr.add(bc)
	if due := tr.popDue(now.Add(1500*time.Millisecond), nil); len(due) != 3 {
		t.Fatalf("due %d", len(due))
	}
	if tr.acked(1, "c") != nil {
		t.Fatal("acked by the wrong node")
	}
	if tr.acked(1, "b") != ps[0] || tr.settledFloor() != 2 {
		t.Fatal("ack")
	}
	if tr.acked(6, "b") != nil || tr.len() != 5 {
		t.Fatal("broadcast settled early")
	}
	if done := tr.peerGone("c"); len(done) != 1 || done[0] != bc {
		t.Fatal("peerGone")
	}
	tr.acked(3, "b")
	if tr.settledFloor() != 2 {
		t.Fatal("floor passed an unconfirmed seq")
	}
	tr.acked(2, "b")
	if tr.settledFloor() != 4 {
		t.Fatalf("floor %d", tr.settledFloor())
	}
	if d, ok := tr.nextDeadline(); !ok || !d.Equal(now.Add(3*time.Second)) {
		t.Fatalf("next deadline %v", d)
	}
}

// FuzzDecode feeds arbitrary header blocks (as nats.go parses them off the
// wire) and bodies through every decoder: errors are fine, panics are not,
// and what decodes obeys the documented invariants.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("NATS/1.0\r\nMurmur-Data: a s 3 direct 2\r\n\r\n"), []byte("body"))
	f.Add([]byte("NATS/1.0\r\nMurmur-Data: a s 3 broadcast\r\n\r\n"), []byte("body"))
	f.Add([]byte("NATS/1.0\r\nMurmur-Data: a s 3 direct 2\r\nMurmur-Batch: 3:2,4:2\r\n\r\n"), []byte("body"))
	f.Add([]byte("NATS/1.0\r\nMurmur-From: b\r\nMurmur-Session: s\r\nMurmur-Ack-Seq: 1-5,9\r\n\r\n"), []byte(nil))
	f.Add([]byte("NATS/1.0\r\nMurmur-From: c\r\nMurmur-Session: s\r\nMurmur-Presence: leave\r\n\r\n"), []byte(nil))
	f.Add([]byte("NATS/1.0\r\nMurmur-Ack-Seq: 1-99999999999999\r\n\r\n"), []byte{0})
	f.Add([]byte("NATS/1.0 503\r\n\r\n"), []byte{})
	f.Fuzz(func(t *testing.T, hdr, body []byte) {
		h, err := nats.DecodeHeadersMsg(hdr)
		if err != nil {
			return
		}
		if ds, err := decodeBatch(h, body, nil); err == nil {
			total := 0
			for _, d := range ds {
				if d.seq == 0 || d.floor > d.seq {
					t.Fatalf("bad batch entry accepted: %+v", d)
				}
				total += len(d.payload)
			}
			if total != len(body) {
				t.Fatalf("batch entries cover %d of %d bytes", total, len(body))
			}
		}
		if d, err := decodeData(h, body); err == nil {
			if d.seq == 0 || d.floor > d.seq || !validToken(d.from) || d.session == "" || (d.kind != KindDirect && d.kind != KindBroadcast) {
				t.Fatalf("bad data accepted: %+v", d)
			}
		}
		if a, err := decodeAck(h); err == nil {
			if len(a.seqs) == 0 || len(a.seqs) > maxAckSeqs {
				t.Fatalf("ack with %d seqs", len(a.seqs))
			}
			again, err := parseSeqList(string(appendSeqList(nil, slices.Clone(a.seqs))), nil)
			if err != nil || len(again) > len(a.seqs) {
				t.Fatalf("seq list does not round-trip: %v", err)
			}
		}
		_, _ = decodePresence(h)
	})
}
