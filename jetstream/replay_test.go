package jetstream_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestPullReplayOriginal: a pull consumer with replay_policy original
// hands out new messages with the gaps they were stored with, as
// nats-server's does; instant hands them out at once.
func TestPullReplayOriginal(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			_, js := legacy(t, br.url(t), nil)
			for i := 0; i < 3; i++ {
				publishN(t, js, "s.r", []byte("r"), 1)
				if i < 2 {
					time.Sleep(300 * time.Millisecond) // the gaps to replay, not an assertion
				}
			}
			for _, tc := range []struct {
				name     string
				policy   nats.ReplayPolicy
				min, max time.Duration // first to last arrival
			}{
				{"instant", nats.ReplayInstantPolicy, 0, 250 * time.Millisecond},
				{"original", nats.ReplayOriginalPolicy, 500 * time.Millisecond, 3 * time.Second},
			} {
				t.Run(tc.name, func(t *testing.T) {
					durable := "p" + tc.name
					if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: durable, AckPolicy: nats.AckNonePolicy, ReplayPolicy: tc.policy}); err != nil {
						t.Fatal(err)
					}
					sub, err := js.PullSubscribe("s.r", durable, nats.Bind("S", durable))
					if err != nil {
						t.Fatal(err)
					}
					var at []time.Time
					deadline := time.Now().Add(5 * time.Second)
					for len(at) < 3 && time.Now().Before(deadline) {
						msgs, _ := sub.Fetch(1, nats.MaxWait(time.Until(deadline)))
						for range msgs {
							at = append(at, time.Now())
						}
					}
					if len(at) != 3 {
						t.Fatalf("got %d of 3 messages", len(at))
					}
					if span := at[2].Sub(at[0]); span < tc.min || span > tc.max {
						t.Fatalf("first to last %v, want %v..%v", span, tc.min, tc.max)
					}
				})
			}
		})
	}
}
