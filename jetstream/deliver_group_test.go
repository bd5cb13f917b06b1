package jetstream_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestDeliverGroupInterest: a push consumer with a deliver_group counts
// only members of that queue group on its deliver subject as interest,
// and one without only plain subscribers, as nats-server's
// (registerNotification with the consumer's queue): a plain subscriber
// or another group does not make it deliver or push_bound.
func TestDeliverGroupInterest(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			nc, js := legacy(t, br.url(t), nil)
			publishN(t, js, "s.g", []byte("g"), 3)
			plain, _ := subscribeInbox(t, nc, "in.g")
			other := &inbox{}
			if _, err := nc.QueueSubscribe("in.g", "other", other.add); err != nil {
				t.Fatal(err)
			}
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "g", DeliverSubject: "in.g", DeliverGroup: "workers", AckPolicy: nats.AckNonePolicy}); err != nil {
				t.Fatal(err)
			}
			nc.Flush()
			time.Sleep(200 * time.Millisecond) // what must not happen gets its chance (not an assertion of speed)
			if n := len(plain.data()) + len(other.data()); n != 0 {
				t.Fatalf("%d deliveries before a member of the group subscribed", n)
			}
			if ci, err := js.ConsumerInfo("S", "g"); err != nil || ci.PushBound {
				t.Fatalf("push_bound %v before a member of the group subscribed (%v)", ci != nil && ci.PushBound, err)
			}
			member := &inbox{}
			if _, err := nc.QueueSubscribe("in.g", "workers", member.add); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "three deliveries to the group", func() bool { return len(member.data()) == 3 })
			if ci, err := js.ConsumerInfo("S", "g"); err != nil || !ci.PushBound {
				t.Fatalf("not push_bound with a member of the group (%v)", err)
			}
			// Without a deliver_group, a queue subscriber alone is no interest.
			qonly := &inbox{}
			if _, err := nc.QueueSubscribe("in.q", "workers", qonly.add); err != nil {
				t.Fatal(err)
			}
			if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: "q", DeliverSubject: "in.q", AckPolicy: nats.AckNonePolicy}); err != nil {
				t.Fatal(err)
			}
			nc.Flush()
			time.Sleep(200 * time.Millisecond)
			if n := len(qonly.data()); n != 0 {
				t.Fatalf("%d deliveries to a queue subscriber of a consumer without deliver_group", n)
			}
		})
	}
}
