package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// crashStream is the stream of TestJetStreamCrash; its files are under
// <store_dir>/jetstream/$G/streams/CRASH.
const crashStream = "CRASH"

// crashBroker runs the broker binary with JetStream on store dir sd and
// returns it with a JetStream context on a connection to it.
func crashBroker(t *testing.T, sd string, jsOpts ...njs.JetStreamOpt) (*testutil.Proc, *nats.Conn, njs.JetStream) {
	t.Helper()
	p := testutil.StartBroker(t, "crash", "-js", "-sd", sd)
	testutil.Eventually(t, 10*time.Second, "JetStream enabled", func() bool { return p.Logged("JetStream enabled") })
	nc, err := nats.Connect(p.URL(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := njs.New(nc, jsOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return p, nc, js
}

// kill9 ends p with SIGKILL, as a crash would, and waits for it.
func kill9(t *testing.T, p *testutil.Proc) {
	t.Helper()
	if err := p.Cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	p.Cmd.Wait()
}

func crashPayload(i int) []byte {
	return fmt.Appendf(nil, "crash-%06d-%s", i, "0123456789abcdef0123456789abcdef")
}

// readAll reads the whole stream in order with an ordered consumer and
// returns the payloads by sequence; it fails on a hole.
func readAll(t *testing.T, js njs.JetStream) (map[uint64]string, uint64) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(c, crashStream)
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return map[uint64]string{}, st.LastSeq
	}
	if st.FirstSeq != 1 || st.Msgs != st.LastSeq || st.NumDeleted != 0 {
		t.Fatalf("stream state after restart: first %d last %d msgs %d deleted %d, want 1..last without holes", st.FirstSeq, st.LastSeq, st.Msgs, st.NumDeleted)
	}
	oc, err := s.OrderedConsumer(c, njs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[uint64]string, st.Msgs)
	for want := uint64(1); want <= st.LastSeq; {
		batch, err := oc.Fetch(int(min(500, st.LastSeq-want+1)), njs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			if md.Sequence.Stream != want {
				t.Fatalf("read sequence %d, want %d (a hole)", md.Sequence.Stream, want)
			}
			got[want] = string(m.Data())
			want++
			n++
		}
		if n == 0 {
			t.Fatalf("ordered read stopped at %d of %d: %v", want, st.LastSeq, batch.Error())
		}
	}
	return got, st.LastSeq
}

// lastSegment is the newest segment file of the crash stream.
func lastSegment(t *testing.T, sd string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(sd, "jetstream", "$G", "streams", crashStream, "msgs", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	sort.Strings(segs)
	return segs[len(segs)-1]
}

// TestJetStreamCrash: 20,000 async publishes into a file stream, the broker
// killed with SIGKILL after a few thousand PubAcks; after a restart on the
// same store every PubAck'd message is there at its sequence with its
// payload, sequences run 1..last without a hole, and a durable pull
// consumer resumes from its ack floor. Then a torn last record and a
// record damaged in the middle of the tail segment, each made while the
// broker is stopped: the broker starts, keeps what is before the damage
// (the damaged record and all after it are dropped, as nats-server
// truncates a block at its first bad record) and publishes continue at the
// next sequence.
func TestJetStreamCrash(t *testing.T) {
	sd := t.TempDir()
	var (
		mu     sync.Mutex
		acked  = map[uint64]string{}
		nAcked atomic.Int64
		killed atomic.Bool
		p      *testutil.Proc
	)
	const killAt = 4000
	onAck := func(_ njs.JetStream, m *nats.Msg, a *njs.PubAck) {
		mu.Lock()
		if a.Stream == crashStream && !a.Duplicate {
			acked[a.Sequence] = string(m.Data)
		}
		mu.Unlock()
		if nAcked.Add(1) == killAt && killed.CompareAndSwap(false, true) {
			p.Cmd.Process.Kill() // SIGKILL, mid-way through the publishes
		}
	}
	p, nc, js := crashBroker(t, sd, njs.WithPublishAsyncAckHandler(onAck), njs.WithPublishAsyncTimeout(5*time.Second))
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.CreateStream(c, njs.StreamConfig{Name: crashStream, Subjects: []string{"crash.>"}, Storage: njs.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.CreateConsumer(c, njs.ConsumerConfig{Durable: "C", AckPolicy: njs.AckExplicitPolicy, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	// Phase 1: 1,000 messages, all acked; the consumer takes 300 and acks
	// the first 250, so its floor is 250 and 251..300 are pending.
	i := 0
	for ; i < 1000; i++ {
		if _, err := js.PublishAsync(fmt.Sprintf("crash.%d", i%10), crashPayload(i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-c.Done():
		t.Fatal("phase 1 PubAcks did not arrive")
	}
	const floor, fetched = 250, 300
	batch, err := cons.Fetch(fetched, njs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if md, _ := m.Metadata(); md.Sequence.Stream <= floor {
			if err := m.DoubleAck(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n != fetched {
		t.Fatalf("fetched %d, want %d (%v)", n, fetched, batch.Error())
	}
	// The consumer's state is written each second: wait until the file has
	// the floor (acks of the last second before a kill may be lost, and
	// those messages are delivered again).
	statePath := filepath.Join(sd, "jetstream", "$G", "streams", crashStream, "obs", "C", "state.json")
	testutil.Eventually(t, 10*time.Second, "consumer state on disk has the ack floor", func() bool {
		b, err := os.ReadFile(statePath)
		var st struct {
			AckFloor struct {
				Stream uint64 `json:"stream_seq"`
			} `json:"ack_floor"`
			Pending map[string]json.RawMessage `json:"pending"`
		}
		return err == nil && json.Unmarshal(b, &st) == nil && st.AckFloor.Stream == floor && len(st.Pending) == fetched-floor
	})

	// Phase 2: 19,000 more, SIGKILL at the 4,000th PubAck.
	for ; i < 20000 && !killed.Load(); i++ {
		if _, err := js.PublishAsync(fmt.Sprintf("crash.%d", i%10), crashPayload(i)); err != nil {
			break // stalled or disconnected: the broker is gone
		}
	}
	testutil.Eventually(t, 30*time.Second, "broker killed", killed.Load)
	p.Cmd.Wait()
	nc.Close()
	mu.Lock()
	ackedNow := make(map[uint64]string, len(acked))
	for k, v := range acked {
		ackedNow[k] = v
	}
	mu.Unlock()
	t.Logf("%d publishes sent, %d PubAcks arrived before the kill", i, len(ackedNow))
	if len(ackedNow) < killAt || i >= 20000 {
		t.Fatalf("the kill was not mid-way: %d acks, %d sent", len(ackedNow), i)
	}

	p, nc, js = crashBroker(t, sd)
	got, last := readAll(t, js)
	for seq, data := range ackedNow {
		if got[seq] != data {
			t.Fatalf("PubAck'd seq %d: after restart %q, want %q", seq, got[seq], data)
		}
	}
	t.Logf("after restart: 1..%d (%d PubAck'd, %d stored but unacked)", last, len(ackedNow), int(last)-len(ackedNow))
	checkConsumerResumes(t, js, floor, fetched)
	c2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if a, err := js.Publish(c2, "crash.x", []byte("after restart")); err != nil || a.Sequence != last+1 {
		t.Fatalf("publish after restart: %+v %v, want seq %d", a, err, last+1)
	}
	last++
	kill9(t, p)
	nc.Close()

	// A torn last record: the segment cut by a few bytes.
	seg := lastSegment(t, sd)
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	p, nc, js = crashBroker(t, sd)
	testutil.Eventually(t, 10*time.Second, "repair logged", func() bool { return p.Logged("stream store repaired") })
	got2, last2 := readAll(t, js)
	if last2 != last-1 {
		t.Fatalf("after a torn last record: last %d, want %d", last2, last-1)
	}
	for seq := uint64(1); seq <= last2; seq++ {
		if got2[seq] != got[seq] && seq < last-1 {
			t.Fatalf("seq %d changed: %q, was %q", seq, got2[seq], got[seq])
		}
	}
	c3, cancel3 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel3()
	if a, err := js.Publish(c3, "crash.x", []byte("after tear")); err != nil || a.Sequence != last2+1 {
		t.Fatalf("publish after a torn tail: %+v %v, want seq %d", a, err, last2+1)
	}
	kill9(t, p)
	nc.Close()

	// A record damaged in the middle of the tail segment: bytes flipped
	// half-way through the file. Recovery keeps the records before it.
	seg = lastSegment(t, sd)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(b) / 2
	for k := mid; k < mid+4; k++ {
		b[k] ^= 0xff
	}
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
	p, nc, js = crashBroker(t, sd)
	testutil.Eventually(t, 10*time.Second, "repair logged", func() bool { return p.Logged("stream store repaired") })
	got3, last3 := readAll(t, js)
	if last3 == 0 || last3 >= last2 {
		t.Fatalf("after a damaged middle record: last %d, want fewer than %d", last3, last2)
	}
	for seq := uint64(1); seq <= last3; seq++ {
		if got3[seq] != got2[seq] {
			t.Fatalf("seq %d changed: %q, was %q", seq, got3[seq], got2[seq])
		}
	}
	t.Logf("a damaged record half-way through the segment: %d of %d messages kept", last3, last2+1)
	c4, cancel4 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel4()
	if a, err := js.Publish(c4, "crash.x", []byte("after damage")); err != nil || a.Sequence != last3+1 {
		t.Fatalf("publish after damage: %+v %v, want seq %d", a, err, last3+1)
	}
	if m, err := js.Conn().Request("$JS.API.CONSUMER.INFO."+crashStream+".C", nil, 5*time.Second); err != nil {
		t.Fatalf("consumer info after damage: %v", err)
	} else {
		t.Logf("consumer after damage: %.200s", m.Data)
	}
}

// checkConsumerResumes: the durable C, acked up to floor with floor+1..
// fetched delivered and unacked, resumes at its floor after the restart:
// nothing at or below the floor comes again, floor+1 is the first message
// delivered and the unacked ones are redelivered.
func checkConsumerResumes(t *testing.T, js njs.JetStream, floor, fetched uint64) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.Consumer(c, crashStream, "C")
	if err != nil {
		t.Fatal(err)
	}
	ci := cons.CachedInfo()
	if ci.AckFloor.Stream != floor || ci.NumAckPending != int(fetched-floor) {
		t.Fatalf("consumer after restart: ack floor %d, ack pending %d; want %d, %d", ci.AckFloor.Stream, ci.NumAckPending, floor, fetched-floor)
	}
	redelivered := map[uint64]bool{}
	first := uint64(0)
	for len(redelivered) < int(fetched-floor) {
		batch, err := cons.Fetch(100, njs.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			seq := md.Sequence.Stream
			if seq <= floor {
				t.Fatalf("acked seq %d delivered again after the restart", seq)
			}
			if first == 0 || seq < first {
				first = seq
			}
			if seq <= fetched {
				if md.NumDelivered < 2 {
					t.Fatalf("seq %d: num_delivered %d, want a redelivery", seq, md.NumDelivered)
				}
				redelivered[seq] = true
			}
			m.Ack()
		}
		if c.Err() != nil {
			t.Fatalf("redelivered %d of %d", len(redelivered), fetched-floor)
		}
	}
	if first != floor+1 {
		t.Fatalf("lowest sequence delivered after the restart %d, want %d", first, floor+1)
	}
}
