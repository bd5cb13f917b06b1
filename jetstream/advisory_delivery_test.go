package jetstream_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestDeliveryAdvisories: a -NAK, a +TERM with a reason, and a pause that
// runs out publish nats-server's MSG_NAKED, MSG_TERMINATED and PAUSE
// advisories, on both servers alike.
func TestDeliveryAdvisories(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			nc, js := legacy(t, br.url(t), nil)
			adv, _ := subscribeInbox(t, nc, "$JS.EVENT.ADVISORY.CONSUMER.>")
			publishN(t, js, "s.a", []byte("a"), 2)
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "d", AckPolicy: nats.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
			sub, err := js.PullSubscribe("s.a", "d", nats.Bind("S", "d"))
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := sub.Fetch(2, nats.MaxWait(5*time.Second))
			if err != nil || len(msgs) != 2 {
				t.Fatalf("fetch: %d %v", len(msgs), err)
			}
			msgs[0].Nak()
			msgs[1].Term(nats.Context(ctx(t)))
			nc.Flush()
			more, err := sub.Fetch(1, nats.MaxWait(5*time.Second))
			if err != nil || len(more) != 1 {
				t.Fatalf("refetch: %d %v", len(more), err)
			}
			if err := more[0].Respond([]byte("+TERM bad payload")); err != nil {
				t.Fatal(err)
			}
			njsc, _ := njs.New(nc)
			if _, err := njsc.PauseConsumer(ctx(t), "S", "d", time.Now().Add(300*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			type advisory struct {
				Type        string    `json:"type"`
				Stream      string    `json:"stream"`
				Consumer    string    `json:"consumer"`
				ConsumerSeq uint64    `json:"consumer_seq"`
				StreamSeq   uint64    `json:"stream_seq"`
				Deliveries  uint64    `json:"deliveries"`
				Reason      string    `json:"reason"`
				Paused      bool      `json:"paused"`
				PauseUntil  time.Time `json:"pause_until"`
			}
			byType := func() map[string][]advisory {
				got := map[string][]advisory{}
				for _, m := range adv.data() {
					var a advisory
					if json.Unmarshal(m.Data, &a) == nil {
						got[a.Type] = append(got[a.Type], a)
					}
				}
				return got
			}
			testutil.Eventually(t, 5*time.Second, "nak, two terms, pause and resume", func() bool {
				got := byType()
				return len(got["io.nats.jetstream.advisory.v1.nak"]) == 1 && len(got["io.nats.jetstream.advisory.v1.terminated"]) == 2 &&
					len(got["io.nats.jetstream.advisory.v1.consumer_pause"]) == 2
			})
			got := byType()
			nak := got["io.nats.jetstream.advisory.v1.nak"][0]
			if nak.Stream != "S" || nak.Consumer != "d" || nak.StreamSeq != 1 || nak.ConsumerSeq != 1 || nak.Deliveries != 1 {
				t.Errorf("nak advisory %+v", nak)
			}
			terms := got["io.nats.jetstream.advisory.v1.terminated"]
			if terms[0].StreamSeq != 2 || terms[0].Reason != "" || terms[1].StreamSeq != 1 || terms[1].Deliveries != 2 || terms[1].Reason != "bad payload" {
				t.Errorf("terminated advisories %+v", terms)
			}
			pauses := got["io.nats.jetstream.advisory.v1.consumer_pause"]
			if !pauses[0].Paused || pauses[1].Paused || pauses[0].PauseUntil.IsZero() || !pauses[1].PauseUntil.Equal(pauses[0].PauseUntil) {
				t.Errorf("pause advisories %+v", pauses)
			}
		})
	}
}
