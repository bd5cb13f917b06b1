package jetstream_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// brokers are what the push tests run on: Murmur, and nats-server 2.15
// as the reference the expectations were checked against.
var brokers = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"murmur", func(t *testing.T) string { return startNode(t, t.TempDir()).srv.ClientURL() }},
	{"nats-server", func(t *testing.T) string { return startNatsServer(t).ConnectedUrl() }},
}

// legacy is a connection to url and its legacy (push capable) JetStream
// context with a stream S on s.> (or scfg).
func legacy(t *testing.T, url string, scfg *nats.StreamConfig) (*nats.Conn, nats.JetStreamContext) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if scfg == nil {
		scfg = &nats.StreamConfig{}
	}
	if scfg.Name == "" {
		scfg.Name, scfg.Subjects = "S", []string{"s.>"}
	}
	if _, err := js.AddStream(scfg); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	return nc, js
}

func publishN(t *testing.T, js nats.JetStreamContext, subject string, data []byte, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(subject, data); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}
}

// inbox collects what arrives on a plain subscription.
type inbox struct {
	mu   sync.Mutex
	msgs []*nats.Msg
	at   []time.Time
}

func (b *inbox) add(m *nats.Msg) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.at = append(b.at, time.Now())
	b.mu.Unlock()
}

// data are the messages that are not status messages.
func (b *inbox) data() []*nats.Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*nats.Msg
	for _, m := range b.msgs {
		if m.Header.Get("Status") == "" {
			out = append(out, m)
		}
	}
	return out
}

func (b *inbox) status(code string) []*nats.Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*nats.Msg
	for _, m := range b.msgs {
		if m.Header.Get("Status") == code {
			out = append(out, m)
		}
	}
	return out
}

func subscribeInbox(t *testing.T, nc *nats.Conn, subject string) (*inbox, *nats.Subscription) {
	t.Helper()
	b := &inbox{}
	sub, err := nc.Subscribe(subject, b.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return b, sub
}

func seqOf(t *testing.T, m *nats.Msg) uint64 {
	t.Helper()
	md, err := m.Metadata()
	if err != nil {
		t.Fatalf("metadata of %q: %v", m.Reply, err)
	}
	return md.Sequence.Stream
}

// TestPushDeliverPolicies: a push consumer's first deliveries for each
// deliver policy over a fresh stream of x.a, x.b, x.a, x.c, x.b, then one
// live message.
func TestPushDeliverPolicies(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, nil)
			var third time.Time // set per case: the time of message 3
			cases := []struct {
				name string
				cfg  func() nats.ConsumerConfig
				want []uint64
			}{
				{"all", func() nats.ConsumerConfig { return nats.ConsumerConfig{DeliverPolicy: nats.DeliverAllPolicy} }, []uint64{1, 2, 3, 4, 5}},
				{"last", func() nats.ConsumerConfig { return nats.ConsumerConfig{DeliverPolicy: nats.DeliverLastPolicy} }, []uint64{5}},
				{"new", func() nats.ConsumerConfig { return nats.ConsumerConfig{DeliverPolicy: nats.DeliverNewPolicy} }, nil},
				{"by_start_sequence", func() nats.ConsumerConfig {
					return nats.ConsumerConfig{DeliverPolicy: nats.DeliverByStartSequencePolicy, OptStartSeq: 4}
				}, []uint64{4, 5}},
				{"by_start_time", func() nats.ConsumerConfig {
					return nats.ConsumerConfig{DeliverPolicy: nats.DeliverByStartTimePolicy, OptStartTime: &third}
				}, []uint64{3, 4, 5}},
				{"last_per_subject", func() nats.ConsumerConfig {
					return nats.ConsumerConfig{DeliverPolicy: nats.DeliverLastPerSubjectPolicy, FilterSubject: "x.>"} // nats.go wants a filter
				}, []uint64{3, 4, 5}},
				{"last_per_subject filtered", func() nats.ConsumerConfig {
					return nats.ConsumerConfig{DeliverPolicy: nats.DeliverLastPerSubjectPolicy, FilterSubject: "x.a"}
				}, []uint64{3}},
			}
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					name := fmt.Sprintf("DP%d", i)
					if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"x.>"}}); err != nil {
						t.Fatal(err)
					}
					defer js.DeleteStream(name)
					for _, subj := range []string{"x.a", "x.b", "x.a", "x.c", "x.b"} {
						publishN(t, js, subj, []byte(subj), 1)
					}
					m3, err := js.GetMsg(name, 3)
					if err != nil {
						t.Fatal(err)
					}
					third = m3.Time
					deliver := fmt.Sprintf("dp.%d", i)
					b, sub := subscribeInbox(t, nc, deliver)
					defer sub.Unsubscribe()
					cfg := tc.cfg()
					cfg.Name, cfg.DeliverSubject, cfg.AckPolicy = "c", deliver, nats.AckNonePolicy
					ci, err := js.AddConsumer(name, &cfg)
					if err != nil {
						t.Fatalf("add consumer: %v", err)
					}
					if ci.NumPending != uint64(len(tc.want)) {
						t.Errorf("num_pending at creation %d, want %d", ci.NumPending, len(tc.want))
					}
					publishN(t, js, "x.a", []byte("live"), 1)
					testutil.Eventually(t, 5*time.Second, "the deliveries", func() bool { return len(b.data()) >= len(tc.want)+1 })
					var got []uint64
					for _, m := range b.data() {
						got = append(got, seqOf(t, m))
					}
					if want := append(tc.want, 6); fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("delivered %v, want %v", got, want)
					}
					if m := b.data()[len(tc.want)]; m.Subject != "x.a" || string(m.Data) != "live" {
						t.Fatalf("live delivery %s %q", m.Subject, m.Data)
					}
				})
			}
		})
	}
}

// TestPushLegacySubscribe: nats.go's js.Subscribe with a durable and
// manual acks; an unacked message comes again after ack_wait, and the
// consumer's floor reaches the end once all are acked.
func TestPushLegacySubscribe(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			_, js := legacy(t, url, nil)
			publishN(t, js, "s.x", []byte("m"), 5)
			var mu sync.Mutex
			deliveries := map[uint64]int{}
			sub, err := js.Subscribe("s.>", func(m *nats.Msg) {
				md, err := m.Metadata()
				if err != nil {
					return
				}
				mu.Lock()
				deliveries[md.Sequence.Stream]++
				first := deliveries[md.Sequence.Stream] == 1
				mu.Unlock()
				if md.Sequence.Stream == 3 && first {
					return // no ack: redelivered after ack_wait
				}
				m.Ack()
			}, nats.Durable("d"), nats.ManualAck(), nats.AckWait(300*time.Millisecond))
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			defer sub.Unsubscribe()
			testutil.Eventually(t, 10*time.Second, "all acked", func() bool {
				ci, err := js.ConsumerInfo("S", "d")
				return err == nil && ci.AckFloor.Stream == 5 && ci.NumAckPending == 0
			})
			mu.Lock()
			defer mu.Unlock()
			for seq := uint64(1); seq <= 5; seq++ {
				want := 1
				if seq == 3 {
					want = 2
				}
				if deliveries[seq] != want {
					t.Errorf("seq %d delivered %d times, want %d", seq, deliveries[seq], want)
				}
			}
			ci, _ := js.ConsumerInfo("S", "d")
			if !ci.PushBound || ci.Config.DeliverSubject == "" {
				t.Errorf("consumer info: push_bound %v deliver %q", ci.PushBound, ci.Config.DeliverSubject)
			}
		})
	}
}

// TestPushQueueSubscribe: js.QueueSubscribe members on three connections
// share one durable; each message reaches exactly one of them.
func TestPushQueueSubscribe(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			_, js := legacy(t, url, nil)
			var mu sync.Mutex
			got := map[uint64]int{}
			members := map[int]int{}
			for i := 0; i < 3; i++ {
				nc, err := nats.Connect(url)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				mjs, _ := nc.JetStream()
				_, err = mjs.QueueSubscribe("s.>", "workers", func(m *nats.Msg) {
					md, err := m.Metadata()
					if err != nil {
						return
					}
					mu.Lock()
					got[md.Sequence.Stream]++
					members[i]++
					mu.Unlock()
					m.Ack()
				}, nats.Durable("q"), nats.ManualAck())
				if err != nil {
					t.Fatalf("member %d: %v", i, err)
				}
			}
			const total = 300
			publishN(t, js, "s.q", []byte("w"), total)
			testutil.Eventually(t, 10*time.Second, "every message acked", func() bool {
				ci, err := js.ConsumerInfo("S", "q")
				return err == nil && ci.AckFloor.Stream == total
			})
			mu.Lock()
			defer mu.Unlock()
			if len(got) != total {
				t.Fatalf("%d distinct messages, want %d", len(got), total)
			}
			for seq, c := range got {
				if c != 1 {
					t.Fatalf("seq %d delivered %d times", seq, c)
				}
			}
			if len(members) < 2 {
				t.Fatalf("one member got everything: %v", members)
			}
		})
	}
}

// TestPushInterest: a push consumer delivers only while its deliver
// subject has a subscriber; push_bound says so.
func TestPushInterest(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, nil)
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "p", DeliverSubject: "in.p", AckPolicy: nats.AckNonePolicy}); err != nil {
				t.Fatal(err)
			}
			publishN(t, js, "s.a", []byte("x"), 3)
			ci, _ := js.ConsumerInfo("S", "p")
			if ci.Delivered.Consumer != 0 || ci.NumPending != 3 || ci.PushBound {
				t.Fatalf("without interest: delivered %d pending %d bound %v", ci.Delivered.Consumer, ci.NumPending, ci.PushBound)
			}
			b, sub := subscribeInbox(t, nc, "in.p")
			publishN(t, js, "s.a", []byte("y"), 1)
			testutil.Eventually(t, 5*time.Second, "4 deliveries", func() bool { return len(b.data()) == 4 })
			if ci, _ := js.ConsumerInfo("S", "p"); !ci.PushBound || ci.NumPending != 0 {
				t.Fatalf("with interest: bound %v pending %d", ci.PushBound, ci.NumPending)
			}
			sub.Unsubscribe()
			nc.Flush()
			publishN(t, js, "s.a", []byte("z"), 2)
			// nats-server updates a consumer's view of new messages on its
			// own goroutine: wait for the count, then check nothing went out.
			testutil.Eventually(t, 5*time.Second, "2 pending after unsubscribe", func() bool {
				ci, _ = js.ConsumerInfo("S", "p")
				return ci.NumPending == 2
			})
			if ci.Delivered.Consumer != 4 || ci.PushBound {
				t.Fatalf("after unsubscribe: delivered %d pending %d bound %v", ci.Delivered.Consumer, ci.NumPending, ci.PushBound)
			}
		})
	}
}

// TestPushFlowControl: with flow_control the consumer stops once its
// window is out unanswered, says so in its heartbeats
// (Nats-Consumer-Stalled), and goes on when the request is answered.
func TestPushFlowControl(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, &nats.StreamConfig{Storage: nats.MemoryStorage})
			const count, size = 40, 100 << 10 // 4 MB: twice the first 2 MiB window
			publishN(t, js, "s.big", make([]byte, size), count)
			b, _ := subscribeInbox(t, nc, "in.fc")
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "fc", DeliverSubject: "in.fc", AckPolicy: nats.AckNonePolicy, FlowControl: true, Heartbeat: 100 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			var stalled *nats.Msg
			testutil.Eventually(t, 5*time.Second, "a stalled heartbeat", func() bool {
				for _, m := range b.status("100") {
					if m.Header.Get("Nats-Consumer-Stalled") != "" {
						stalled = m
						return true
					}
				}
				return false
			})
			fcs := b.status("100")
			var fc *nats.Msg
			for _, m := range fcs {
				if strings.Contains(m.Header.Get("Description"), "FlowControl") {
					fc = m
					break
				}
			}
			if fc == nil || fc.Reply == "" || stalled.Header.Get("Nats-Consumer-Stalled") != fc.Reply {
				t.Fatalf("flow control request %v, stalled on %q", fc, stalled.Header.Get("Nats-Consumer-Stalled"))
			}
			if got := len(b.data()); got >= count || got < 10 {
				t.Fatalf("%d messages before the answer, want about 2 MiB of them", got)
			}
			if stalled.Header.Get("Nats-Last-Consumer") != fmt.Sprint(len(b.data())) {
				t.Errorf("heartbeat Nats-Last-Consumer %q, delivered %d", stalled.Header.Get("Nats-Last-Consumer"), len(b.data()))
			}
			// Answer every flow control request from now on.
			answered := map[string]bool{}
			testutil.Eventually(t, 10*time.Second, "all messages after the answers", func() bool {
				for _, m := range b.status("100") {
					if m.Reply != "" && !answered[m.Reply] {
						answered[m.Reply] = true
						m.Respond(nil)
					}
				}
				return len(b.data()) == count
			})
		})
	}
}

// TestPushHeartbeatAndHeadersOnly: idle heartbeats name the last
// consumer and stream sequences; headers_only sends the headers and
// Nats-Msg-Size without the data.
func TestPushHeartbeatAndHeadersOnly(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, nil)
			m := nats.NewMsg("s.h")
			m.Header.Set("X-Kind", "test")
			m.Data = []byte("hello")
			if _, err := js.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
			publishN(t, js, "s.h", []byte("12345678"), 1)
			b, _ := subscribeInbox(t, nc, "in.h")
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "h", DeliverSubject: "in.h", AckPolicy: nats.AckNonePolicy, HeadersOnly: true, Heartbeat: 100 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "two messages and a heartbeat", func() bool { return len(b.data()) == 2 && len(b.status("100")) > 0 })
			d := b.data()
			if len(d[0].Data) != 0 || d[0].Header.Get("Nats-Msg-Size") != "5" || d[0].Header.Get("X-Kind") != "test" {
				t.Errorf("first: data %q header %v", d[0].Data, d[0].Header)
			}
			if len(d[1].Data) != 0 || d[1].Header.Get("Nats-Msg-Size") != "8" {
				t.Errorf("second: data %q header %v", d[1].Data, d[1].Header)
			}
			hb := b.status("100")[0]
			if hb.Header.Get("Description") != "Idle Heartbeat" || hb.Header.Get("Nats-Last-Consumer") != "2" || hb.Header.Get("Nats-Last-Stream") != "2" {
				t.Errorf("heartbeat header %v", hb.Header)
			}
		})
	}
}

// TestPushMaxAckPending: a push consumer stops at max_ack_pending and
// goes on as acks come.
func TestPushMaxAckPending(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, nil)
			publishN(t, js, "s.m", []byte("m"), 5)
			b, _ := subscribeInbox(t, nc, "in.m")
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "m", DeliverSubject: "in.m", AckPolicy: nats.AckExplicitPolicy, MaxAckPending: 2, AckWait: time.Hour}); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "two deliveries", func() bool { return len(b.data()) == 2 })
			ci, _ := js.ConsumerInfo("S", "m")
			if ci.NumAckPending != 2 || ci.NumPending != 3 {
				t.Fatalf("at the limit: ack pending %d pending %d", ci.NumAckPending, ci.NumPending)
			}
			b.data()[0].AckSync()
			testutil.Eventually(t, 5*time.Second, "a third delivery", func() bool { return len(b.data()) == 3 })
			if ci, _ := js.ConsumerInfo("S", "m"); ci.NumAckPending != 2 || ci.NumPending != 2 {
				t.Fatalf("after one ack: ack pending %d pending %d", ci.NumAckPending, ci.NumPending)
			}
		})
	}
}

// TestPushReplayAndRate: replay_policy original keeps the stored gaps;
// rate_limit_bps spreads the messages out (burst: max_msg_size).
func TestPushReplayAndRate(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, &nats.StreamConfig{MaxMsgSize: 1024})
			for i := 0; i < 3; i++ {
				publishN(t, js, "s.r", []byte("r"), 1)
				if i < 2 {
					time.Sleep(300 * time.Millisecond) // the gaps to replay, not an assertion
				}
			}
			cases := []struct {
				name     string
				cfg      nats.ConsumerConfig
				min, max time.Duration // first to last delivery
			}{
				{"instant", nats.ConsumerConfig{ReplayPolicy: nats.ReplayInstantPolicy}, 0, 250 * time.Millisecond},
				{"original", nats.ConsumerConfig{ReplayPolicy: nats.ReplayOriginalPolicy}, 500 * time.Millisecond, 3 * time.Second},
			}
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					deliver := fmt.Sprintf("in.r%d", i)
					b, _ := subscribeInbox(t, nc, deliver)
					cfg := tc.cfg
					cfg.Durable, cfg.DeliverSubject, cfg.AckPolicy = fmt.Sprintf("r%d", i), deliver, nats.AckNonePolicy
					if _, err := js.AddConsumer("S", &cfg); err != nil {
						t.Fatal(err)
					}
					testutil.Eventually(t, 5*time.Second, "three deliveries", func() bool { return len(b.data()) == 3 })
					b.mu.Lock()
					span := b.at[len(b.at)-1].Sub(b.at[0])
					b.mu.Unlock()
					if span < tc.min || span > tc.max {
						t.Fatalf("first to last %v, want %v..%v", span, tc.min, tc.max)
					}
				})
			}
			t.Run("rate limit", func(t *testing.T) {
				publishN(t, js, "s.rate", make([]byte, 900), 20) // ~19 KB at 10 KB/s after a 1 KB burst
				b, _ := subscribeInbox(t, nc, "in.rate")
				start := time.Now()
				if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "rate", FilterSubject: "s.rate", DeliverSubject: "in.rate", AckPolicy: nats.AckNonePolicy, RateLimit: 80_000}); err != nil {
					t.Fatal(err)
				}
				testutil.Eventually(t, 10*time.Second, "twenty deliveries", func() bool { return len(b.data()) == 20 })
				if d := time.Since(start); d < 1200*time.Millisecond {
					t.Fatalf("20 x 900 B at 10 KB/s took %v", d)
				}
			})
		})
	}
}

// TestConsumerPause: a paused consumer, push or pull, sends nothing
// until resumed; the pause is in its info.
func TestConsumerPause(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			url := br.url(t)
			nc, js := legacy(t, url, nil)
			b, _ := subscribeInbox(t, nc, "in.pause")
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "push", DeliverSubject: "in.pause", AckPolicy: nats.AckNonePolicy}); err != nil {
				t.Fatal(err)
			}
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "pull", AckPolicy: nats.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
			njsc, _ := njs.New(nc)
			c := ctx(t)
			until := time.Now().Add(time.Hour)
			for _, name := range []string{"push", "pull"} {
				r, err := njsc.PauseConsumer(c, "S", name, until)
				if err != nil || !r.Paused || r.PauseRemaining <= 0 {
					t.Fatalf("pause %s: %+v %v", name, r, err)
				}
			}
			publishN(t, js, "s.p", []byte("p"), 2)
			pull, err := js.PullSubscribe("s.>", "pull", nats.Bind("S", "pull"))
			if err != nil {
				t.Fatal(err)
			}
			if msgs, err := pull.Fetch(1, nats.MaxWait(300*time.Millisecond)); err == nil || len(msgs) != 0 {
				t.Fatalf("fetch from a paused consumer: %d messages, %v", len(msgs), err)
			}
			for _, name := range []string{"push", "pull"} {
				ci, _ := js.ConsumerInfo("S", name)
				if ci.Delivered.Consumer != 0 || ci.NumPending != 2 {
					t.Fatalf("%s while paused: delivered %d pending %d", name, ci.Delivered.Consumer, ci.NumPending)
				}
				if p := pauseInfo(t, nc, name); !p.Paused || p.PauseRemaining <= 0 {
					t.Fatalf("%s info not paused: %+v", name, p)
				}
			}
			for _, name := range []string{"push", "pull"} {
				r, err := njsc.ResumeConsumer(c, "S", name)
				if err != nil || r.Paused {
					t.Fatalf("resume %s: %+v %v", name, r, err)
				}
			}
			// nats-server 2.15 resumes a push consumer at the next message
			// (Murmur at once; docs/jetstream.md), so one more is published.
			publishN(t, js, "s.p", []byte("p"), 1)
			testutil.Eventually(t, 5*time.Second, "the push deliveries", func() bool { return len(b.data()) == 3 })
			msgs, err := pull.Fetch(3, nats.MaxWait(3*time.Second))
			if err != nil || len(msgs) != 3 {
				t.Fatalf("fetch after resume: %d %v", len(msgs), err)
			}
			// A pause in the past resumes at once; pause_until is not changed by
			// an update of the consumer.
			if _, err := njsc.PauseConsumer(c, "S", "push", until); err != nil {
				t.Fatal(err)
			}
			if _, err := js.UpdateConsumer("S", &nats.ConsumerConfig{Durable: "push", DeliverSubject: "in.pause", AckPolicy: nats.AckNonePolicy, Description: "x"}); err != nil {
				t.Fatal(err)
			}
			if p := pauseInfo(t, nc, "push"); !p.Paused || p.Config.PauseUntil == nil || !p.Config.PauseUntil.Equal(until.UTC()) {
				t.Fatalf("pause after update: %+v", p)
			}
		})
	}
}

// pauseInfo reads a consumer's pause fields from CONSUMER.INFO (nats.go's
// push consumer info has none).
func pauseInfo(t *testing.T, nc *nats.Conn, name string) (p struct {
	Paused         bool          `json:"paused"`
	PauseRemaining time.Duration `json:"pause_remaining"`
	Config         struct {
		PauseUntil *time.Time `json:"pause_until"`
	} `json:"config"`
}) {
	t.Helper()
	m, err := nc.Request("$JS.API.CONSUMER.INFO.S."+name, nil, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPushDurableRestart: a durable push consumer's floors survive a
// restart of the broker; it resumes after what was acked.
func TestPushDurableRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	nc, js := legacy(t, n.srv.ClientURL(), nil)
	b, sub := subscribeInbox(t, nc, "in.d")
	if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "d", DeliverSubject: "in.d", AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "s.d", []byte("before"), 3)
	testutil.Eventually(t, 5*time.Second, "three deliveries", func() bool { return len(b.data()) == 3 })
	for _, m := range b.data() {
		if err := m.AckSync(); err != nil {
			t.Fatal(err)
		}
	}
	sub.Unsubscribe()
	nc.Close()
	n.stop()

	n = startNode(t, dir)
	nc, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = nc.JetStream()
	ci, err := js.ConsumerInfo("S", "d")
	if err != nil || ci.AckFloor.Stream != 3 || ci.Config.DeliverSubject != "in.d" {
		t.Fatalf("after restart: %+v %v", ci, err)
	}
	b, _ = subscribeInbox(t, nc, "in.d")
	publishN(t, js, "s.d", []byte("after"), 2)
	testutil.Eventually(t, 5*time.Second, "two new deliveries", func() bool { return len(b.data()) == 2 })
	if s := seqOf(t, b.data()[0]); s != 4 {
		t.Fatalf("first delivery after restart is seq %d", s)
	}
}

// TestPushErrorCodesSideBySide: bad push and pull configurations get
// nats-server 2.15's err_code.
func TestPushErrorCodesSideBySide(t *testing.T) {
	ref := startNatsServer(t)
	n := startNode(t, t.TempDir())
	ours, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	create := func(name, cfg string) (string, string) {
		return "$JS.API.CONSUMER.CREATE.P." + name, `{"stream_name":"P","config":{"name":"` + name + `",` + cfg + `}}`
	}
	steps := []struct{ name, subject, body string }{
		{"create P", "$JS.API.STREAM.CREATE.P", `{"name":"P","subjects":["p.>"]}`},
	}
	for _, c := range []struct{ name, cfg string }{
		{"ok", `"deliver_subject":"d.ok","ack_policy":"explicit"`},
		{"wildcards", `"deliver_subject":"d.*","ack_policy":"explicit"`},
		{"cycle", `"deliver_subject":"p.x","ack_policy":"explicit"`},
		{"maxwait", `"deliver_subject":"d.w","max_waiting":3,"ack_policy":"explicit"`},
		{"fcnohb", `"deliver_subject":"d.f","flow_control":true,"ack_policy":"none"`},
		{"smallhb", `"deliver_subject":"d.s","idle_heartbeat":1000000,"ack_policy":"none"`},
		{"map", `"deliver_subject":"d.m","ack_policy":"none","max_ack_pending":5`},
		{"pullhb", `"idle_heartbeat":1000000000,"ack_policy":"explicit"`},
		{"pullfc", `"flow_control":true,"ack_policy":"explicit"`},
		{"pullrate", `"rate_limit_bps":1000,"ack_policy":"explicit"`},
	} {
		subj, body := create(c.name, c.cfg)
		steps = append(steps, struct{ name, subject, body string }{c.name, subj, body})
	}
	steps = append(steps,
		struct{ name, subject, body string }{"pause", "$JS.API.CONSUMER.PAUSE.P.ok", `{"pause_until":"2099-01-01T00:00:00Z"}`},
		struct{ name, subject, body string }{"pause missing", "$JS.API.CONSUMER.PAUSE.P.nope", `{}`},
		struct{ name, subject, body string }{"pause bad json", "$JS.API.CONSUMER.PAUSE.P.ok", `{"pause_until":`},
		struct{ name, subject, body string }{"delete P", "$JS.API.STREAM.DELETE.P", ``},
	)
	for _, st := range steps {
		want := errCode(t, ref, st.subject, st.body)
		got := errCode(t, ours, st.subject, st.body)
		if got != want {
			t.Errorf("%s: Murmur err_code %d, nats-server %d", st.name, got, want)
		}
	}
}

// TestConsumerResumeAtOnce: Murmur's push consumer sends what waited
// the moment it is resumed (nats-server 2.15 waits for the next message).
func TestConsumerResumeAtOnce(t *testing.T) {
	n := startNode(t, t.TempDir())
	nc, js := legacy(t, n.srv.ClientURL(), nil)
	b, _ := subscribeInbox(t, nc, "in.r")
	if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "r", DeliverSubject: "in.r", AckPolicy: nats.AckNonePolicy}); err != nil {
		t.Fatal(err)
	}
	njsc := n.js(t)
	c := ctx(t)
	if _, err := njsc.PauseConsumer(c, "S", "r", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "s.r", []byte("r"), 2)
	if ci, _ := js.ConsumerInfo("S", "r"); ci.Delivered.Consumer != 0 {
		t.Fatalf("paused consumer delivered %d", ci.Delivered.Consumer)
	}
	if _, err := njsc.ResumeConsumer(c, "S", "r"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the waiting messages", func() bool { return len(b.data()) == 2 })
}

// TestPushAckPolicies: which messages a push consumer still waits on
// after only message 3 of 4 is acked, per ack policy.
func TestPushAckPolicies(t *testing.T) {
	cases := []struct {
		policy     nats.AckPolicy
		floor      uint64
		ackPending int
	}{
		{nats.AckExplicitPolicy, 0, 3},
		{nats.AckAllPolicy, 3, 1},
		{nats.AckNonePolicy, 4, 0},
	}
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			nc, js := legacy(t, br.url(t), nil)
			publishN(t, js, "s.a", []byte("a"), 4)
			for i, tc := range cases {
				deliver := fmt.Sprintf("in.ack%d", i)
				b, _ := subscribeInbox(t, nc, deliver)
				name := fmt.Sprintf("ack%d", i)
				if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: name, DeliverSubject: deliver, AckPolicy: tc.policy, AckWait: time.Hour}); err != nil {
					t.Fatal(err)
				}
				testutil.Eventually(t, 5*time.Second, "four deliveries", func() bool { return len(b.data()) == 4 })
				if tc.policy != nats.AckNonePolicy {
					if err := b.data()[2].AckSync(); err != nil {
						t.Fatal(err)
					}
				}
				ci, err := js.ConsumerInfo("S", name)
				if err != nil || ci.AckFloor.Stream != tc.floor || ci.NumAckPending != tc.ackPending {
					t.Errorf("%s: ack floor %d ack pending %d, want %d %d (%v)", tc.policy, ci.AckFloor.Stream, ci.NumAckPending, tc.floor, tc.ackPending, err)
				}
			}
		})
	}
}

// TestPushEphemeralInactive: an ephemeral push consumer whose deliver
// subject lost its subscriber is deleted after inactive_threshold.
func TestPushEphemeralInactive(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			nc, js := legacy(t, br.url(t), nil)
			b, sub := subscribeInbox(t, nc, "in.e")
			ci, err := js.AddConsumer("S", &nats.ConsumerConfig{DeliverSubject: "in.e", AckPolicy: nats.AckNonePolicy, InactiveThreshold: 300 * time.Millisecond, Heartbeat: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			// Bound, it stays past its threshold: three heartbeats are 600 ms.
			testutil.Eventually(t, 5*time.Second, "three heartbeats", func() bool { return len(b.status("100")) >= 3 })
			if _, err := js.ConsumerInfo("S", ci.Name); err != nil {
				t.Fatalf("bound ephemeral gone: %v", err)
			}
			sub.Unsubscribe()
			testutil.Eventually(t, 5*time.Second, "the unbound ephemeral deleted", func() bool {
				_, err := js.ConsumerInfo("S", ci.Name)
				return err != nil
			})
		})
	}
}

// TestPushOrderedRecreated: nats.go's ordered consumer recreates its
// consumer when the heartbeats stop (here: the consumer is deleted under
// it) and goes on from the next stream sequence, in order, no repeats.
func TestPushOrderedRecreated(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			_, js := legacy(t, br.url(t), nil)
			publishN(t, js, "s.o", []byte("o"), 5)
			var mu sync.Mutex
			var seqs []uint64
			sub, err := js.Subscribe("s.>", func(m *nats.Msg) {
				md, err := m.Metadata()
				if err != nil {
					return
				}
				mu.Lock()
				seqs = append(seqs, md.Sequence.Stream)
				mu.Unlock()
			}, nats.OrderedConsumer(), nats.IdleHeartbeat(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(seqs) }
			testutil.Eventually(t, 5*time.Second, "the first five", func() bool { return count() == 5 })
			info, err := sub.ConsumerInfo()
			if err != nil {
				t.Fatal(err)
			}
			if !info.Config.FlowControl || info.Config.AckPolicy != nats.AckNonePolicy || !info.Config.MemoryStorage {
				t.Fatalf("ordered consumer config: %+v", info.Config)
			}
			if err := js.DeleteConsumer("S", info.Name); err != nil {
				t.Fatal(err)
			}
			publishN(t, js, "s.o", []byte("o"), 5)
			testutil.Eventually(t, 10*time.Second, "the next five through a new consumer", func() bool { return count() == 10 })
			mu.Lock()
			got := fmt.Sprint(seqs)
			mu.Unlock()
			if got != "[1 2 3 4 5 6 7 8 9 10]" {
				t.Fatalf("sequences %s", got)
			}
			testutil.Eventually(t, 5*time.Second, "a new consumer under the subscription", func() bool {
				ci, err := sub.ConsumerInfo() // fails while a reset is under way
				return err == nil && ci.Name != info.Name
			})
		})
	}
}

// TestPushLargeBacklog: a push consumer without flow control or acks
// sends a backlog larger than one engine step (8 MiB) completely.
func TestPushLargeBacklog(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			nc, js := legacy(t, br.url(t), &nats.StreamConfig{Storage: nats.MemoryStorage})
			const count = 120 // 12 MB
			publishN(t, js, "s.big", make([]byte, 100<<10), count)
			var mu sync.Mutex
			got := 0
			sub, err := nc.Subscribe("in.big", func(*nats.Msg) { mu.Lock(); got++; mu.Unlock() })
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			sub.SetPendingLimits(-1, -1)
			nc.Flush()
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "big", DeliverSubject: "in.big", AckPolicy: nats.AckNonePolicy}); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 20*time.Second, "the whole backlog", func() bool { mu.Lock(); defer mu.Unlock(); return got == count })
		})
	}
}
