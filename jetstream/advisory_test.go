package jetstream_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"
)

// TestAdvisories: a subscriber on $JS.EVENT.> hears nats-server's
// advisories for a stream's and a consumer's life, the sampled ack
// metric, max deliveries exceeded, and the API audit, with nats-server's
// subjects, types and fields.
func TestAdvisories(t *testing.T) {
	n := startNode(t, t.TempDir())
	nc, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	events, err := nc.SubscribeSync("$JS.EVENT.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js := n.js(t)
	c := ctx(t)
	s, err := js.CreateStream(c, njs.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateStream(c, njs.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxMsgs: 100}); err != nil {
		t.Fatal(err)
	}
	cons, err := s.CreateOrUpdateConsumer(c, njs.ConsumerConfig{
		Durable: "C", AckPolicy: njs.AckExplicitPolicy, MaxDeliver: 1, AckWait: 200 * time.Millisecond, SampleFrequency: "100%",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"s.a", "s.b"} {
		if _, err := js.Publish(c, subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(1, njs.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(c); err != nil {
			t.Fatal(err)
		}
	}
	// The second is fetched and never acked: after ack_wait it has been
	// delivered max_deliver times.
	if batch, err = cons.Fetch(1, njs.FetchMaxWait(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}

	type event struct {
		Type, Stream, Consumer, Action, Subject, Request, Response string
		StreamSeq                                                  uint64 `json:"stream_seq"`
		ConsumerSeq                                                uint64 `json:"consumer_seq"`
		Deliveries                                                 uint64
		AckTime                                                    int64 `json:"ack_time"`
		ID                                                         string
		Timestamp                                                  time.Time
		Client                                                     map[string]any
	}
	seen := map[string]event{}
	audits := map[string]event{}
	next := func(until func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !until() {
			if time.Now().After(deadline) {
				t.Fatalf("advisories seen: %v; audits: %v", keys(seen), keys(audits))
			}
			m, err := events.NextMsg(time.Until(deadline))
			if err != nil {
				continue
			}
			var ev event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatalf("%s: %q: %v", m.Subject, m.Data, err)
			}
			if ev.ID == "" || ev.Timestamp.IsZero() {
				t.Errorf("%s: no id or timestamp: %s", m.Subject, m.Data)
			}
			if m.Subject == "$JS.EVENT.ADVISORY.API" {
				audits[ev.Subject] = ev
				continue
			}
			seen[m.Subject] = ev
		}
	}
	has := func(subjects ...string) func() bool {
		return func() bool {
			for _, s := range subjects {
				if _, ok := seen[s]; !ok {
					return false
				}
			}
			return true
		}
	}
	next(has("$JS.EVENT.ADVISORY.STREAM.CREATED.S", "$JS.EVENT.ADVISORY.STREAM.UPDATED.S",
		"$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.C", "$JS.EVENT.METRIC.CONSUMER.ACK.S.C",
		"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C"))
	if err := js.DeleteStream(c, "S"); err != nil {
		t.Fatal(err)
	}
	next(has("$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.C", "$JS.EVENT.ADVISORY.STREAM.DELETED.S"))

	want := map[string]event{
		"$JS.EVENT.ADVISORY.STREAM.CREATED.S":            {Type: "io.nats.jetstream.advisory.v1.stream_action", Stream: "S", Action: "create"},
		"$JS.EVENT.ADVISORY.STREAM.UPDATED.S":            {Type: "io.nats.jetstream.advisory.v1.stream_action", Stream: "S", Action: "modify"},
		"$JS.EVENT.ADVISORY.STREAM.DELETED.S":            {Type: "io.nats.jetstream.advisory.v1.stream_action", Stream: "S", Action: "delete"},
		"$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.C":        {Type: "io.nats.jetstream.advisory.v1.consumer_action", Stream: "S", Consumer: "C", Action: "create"},
		"$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.C":        {Type: "io.nats.jetstream.advisory.v1.consumer_action", Stream: "S", Consumer: "C", Action: "delete"},
		"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C": {Type: "io.nats.jetstream.advisory.v1.max_deliver", Stream: "S", Consumer: "C", StreamSeq: 2, Deliveries: 1},
		"$JS.EVENT.METRIC.CONSUMER.ACK.S.C":              {Type: "io.nats.jetstream.metric.v1.consumer_ack", Stream: "S", Consumer: "C", StreamSeq: 1, ConsumerSeq: 1, Deliveries: 1},
	}
	for subj, w := range want {
		got := seen[subj]
		if subj == "$JS.EVENT.METRIC.CONSUMER.ACK.S.C" {
			if got.AckTime <= 0 || got.AckTime > int64(10*time.Second) {
				t.Errorf("%s: ack_time %d ns", subj, got.AckTime)
			}
			got.AckTime = 0
		}
		got.ID, got.Timestamp = "", time.Time{}
		if got.Type != w.Type || got.Stream != w.Stream || got.Consumer != w.Consumer || got.Action != w.Action ||
			got.StreamSeq != w.StreamSeq || got.ConsumerSeq != w.ConsumerSeq || got.Deliveries != w.Deliveries {
			t.Errorf("%s:\n got %+v\nwant %+v", subj, got, w)
		}
	}

	// The API audit: one per answered request, with the request and the
	// response as sent.
	next(func() bool { _, ok := audits["$JS.API.STREAM.DELETE.S"]; return ok })
	a := audits["$JS.API.STREAM.CREATE.S"]
	if a.Type != "io.nats.jetstream.advisory.v1.api_audit" || !strings.Contains(a.Request, `"name":"S"`) || !strings.Contains(a.Response, "stream_create_response") {
		t.Errorf("stream create audit: %+v", a)
	}
	if a.Client["acc"] != "$G" {
		t.Errorf("audit client %v, want acc $G", a.Client)
	}
	if d := audits["$JS.API.STREAM.DELETE.S"]; !strings.Contains(d.Response, `"success":true`) {
		t.Errorf("stream delete audit: %+v", d)
	}
	for subj := range audits {
		if strings.HasPrefix(subj, "$JS.API.CONSUMER.MSG.NEXT.") {
			t.Errorf("pull request %s audited; nats-server audits only typed API requests", subj)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
