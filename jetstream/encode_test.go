package jetstream

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestPubAckEncoding(t *testing.T) {
	for _, a := range []PubAck{
		{Stream: "benchstream", Seq: 1},
		{Stream: "ORDERS", Seq: 18446744073709551615, Duplicate: true},
		{Stream: `a"b\c<d>&é`, Seq: 7},
		{Stream: "tab\there", Seq: 2},
	} {
		want, _ := json.Marshal(&a)
		if got := appendPubAck(nil, &a); string(got) != string(want) {
			t.Errorf("appendPubAck(%+v) = %s, encoding/json %s", a, got, want)
		}
	}
	if got, want := ackReply("S", "C", 2, 10, 11, 1234567890, 5), fmt.Sprintf("$JS.ACK.%s.%s.%d.%d.%d.%d.%d", "S", "C", 2, 10, 11, 1234567890, 5); got != want {
		t.Errorf("ackReply %q, want %q", got, want)
	}
}

// TestAckFloor acks out of order: the floor stays below the oldest
// message awaiting an ack and reaches the last delivered one when none is.
func TestAckFloor(t *testing.T) {
	c := &consumer{cfg: ConsumerConfig{AckPolicy: "explicit"}}
	c.state.Pending = map[uint64]*pending{}
	for seq := uint64(11); seq <= 20; seq++ { // stream 11..20 as consumer 1..10
		c.state.Pending[seq] = &pending{CSeq: seq - 10, Count: 1}
	}
	c.state.AckFloor = SequenceInfo{Stream: 10}
	c.state.Delivered = SequenceInfo{Stream: 20, Consumer: 10}
	for _, step := range []struct {
		ack            uint64
		floorS, floorC uint64
	}{
		{13, 10, 0}, {11, 11, 1}, {12, 13, 3}, {20, 13, 3}, {16, 13, 3}, {14, 14, 4},
		{15, 16, 6}, {18, 16, 6}, {17, 18, 8}, {19, 20, 10},
	} {
		c.ack(step.ack, "+ACK", 0, time.Now())
		if f := c.state.AckFloor; f.Stream != step.floorS || f.Consumer != step.floorC {
			t.Fatalf("after ack %d: floor stream %d consumer %d, want %d %d", step.ack, f.Stream, f.Consumer, step.floorS, step.floorC)
		}
	}
}
