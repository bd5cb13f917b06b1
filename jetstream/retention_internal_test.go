package jetstream

import (
	"testing"
	"time"

	"github.com/murmurmq/murmur/jetstream/store"
)

// retentionStream is an in-memory stream holding one message per
// subject given, with consumers as the test sets them.
func retentionStream(t *testing.T, retention string, subjects ...string) *stream {
	t.Helper()
	s := &stream{cfg: StreamConfig{Name: "S", Retention: retention, Storage: "memory"}, st: store.NewMemory(), consumers: map[string]*consumer{}}
	for _, subj := range subjects {
		if _, err := s.st.Append(subj, nil, []byte("x"), time.Now().UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func addConsumer(s *stream, name string, cfg ConsumerConfig, st consumerState) *consumer {
	cfg.Name = name
	cfg.defaults()
	if st.Pending == nil {
		st.Pending = map[uint64]*pending{}
	}
	c := &consumer{name: name, stream: s, cfg: cfg, state: st}
	s.consumers[name] = c
	return c
}

// TestConsumerNeeds: nats-server's needAck, case by case.
func TestConsumerNeeds(t *testing.T) {
	s := retentionStream(t, "interest", "a", "b", "a", "b")
	cases := []struct {
		name  string
		cfg   ConsumerConfig
		state consumerState
		seq   uint64
		subj  string
		want  bool
	}{
		{"not yet delivered", ConsumerConfig{}, consumerState{NextSeq: 1}, 1, "a", true},
		{"filter does not match", ConsumerConfig{FilterSubject: "b"}, consumerState{NextSeq: 1}, 1, "a", false},
		{"below the ack floor", ConsumerConfig{}, consumerState{NextSeq: 3, AckFloor: SequenceInfo{Stream: 2}}, 2, "b", false},
		{"delivered, pending", ConsumerConfig{}, consumerState{NextSeq: 4, AckFloor: SequenceInfo{Stream: 2}, Pending: map[uint64]*pending{3: {}}}, 3, "a", true},
		{"delivered, acked above the floor", ConsumerConfig{}, consumerState{NextSeq: 4, AckFloor: SequenceInfo{Stream: 2}, Pending: map[uint64]*pending{3: {}}}, 2, "b", false},
		{"explicit, acked out of order", ConsumerConfig{}, consumerState{NextSeq: 5, AckFloor: SequenceInfo{Stream: 2}, Pending: map[uint64]*pending{3: {}}}, 4, "b", false},
		{"ack all above the floor", ConsumerConfig{AckPolicy: "all"}, consumerState{NextSeq: 5, AckFloor: SequenceInfo{Stream: 2}}, 4, "b", true},
		{"ack none delivered", ConsumerConfig{AckPolicy: "none"}, consumerState{NextSeq: 4, AckFloor: SequenceInfo{Stream: 3}}, 3, "a", false},
		{"exhausted below the floor", ConsumerConfig{}, consumerState{NextSeq: 5, AckFloor: SequenceInfo{Stream: 4}, Exhausted: map[uint64]bool{2: true}}, 2, "b", true},
		{"filter subjects", ConsumerConfig{FilterSubjects: []string{"x", "b"}}, consumerState{NextSeq: 1}, 4, "b", true},
	}
	for _, tc := range cases {
		c := addConsumer(s, "c", tc.cfg, tc.state)
		if got := c.needs(tc.seq, tc.subj); got != tc.want {
			t.Errorf("%s: needs(%d, %s) = %v, want %v", tc.name, tc.seq, tc.subj, got, tc.want)
		}
	}
}

// TestRecoverRetention: after a restart, messages the saved consumer
// state shows as acked are removed (a removal lost in a crash), a work
// queue keeps what no consumer matches, and an interest stream without
// consumers is left alone.
func TestRecoverRetention(t *testing.T) {
	cases := []struct {
		name      string
		retention string
		consumers map[string]ConsumerConfig
		floor     uint64 // every consumer's ack floor and next-1
		want      uint64 // messages left of a, b, a, b, c
	}{
		{"interest, acked up to 3", "interest", map[string]ConsumerConfig{"x": {}}, 3, 2},
		{"interest, two consumers, one behind", "interest", map[string]ConsumerConfig{"x": {}, "y": {FilterSubject: "c"}}, 3, 2},
		{"interest, filter b: a and c are of no interest", "interest", map[string]ConsumerConfig{"x": {FilterSubject: "b"}}, 0, 2},
		{"interest, no consumers", "interest", nil, 0, 5},
		{"workqueue, filter b acked to 4", "workqueue", map[string]ConsumerConfig{"x": {FilterSubject: "b"}}, 4, 3},
		{"workqueue, no consumers", "workqueue", nil, 0, 5},
		{"limits", "limits", map[string]ConsumerConfig{"x": {}}, 5, 5},
	}
	for _, tc := range cases {
		s := retentionStream(t, tc.retention, "a", "b", "a", "b", "c")
		for name, cfg := range tc.consumers {
			floor := tc.floor
			if cfg.FilterSubject == "c" {
				floor = 4
			}
			addConsumer(s, name, cfg, consumerState{NextSeq: floor + 1, AckFloor: SequenceInfo{Stream: floor}})
		}
		acct := accountUsage{srv: &ServerUsage{}}
		s.recoverRetention(&acct)
		if got := s.st.State().Msgs; got != tc.want {
			t.Errorf("%s: %d messages left, want %d", tc.name, got, tc.want)
		}
	}
}

// TestWorkQueueConsumerChecks: the refusals in nats-server's order.
func TestWorkQueueConsumerChecks(t *testing.T) {
	s := retentionStream(t, "workqueue")
	addConsumer(s, "wa", ConsumerConfig{FilterSubject: "w.a"}, consumerState{})
	cases := []struct {
		name   string
		cfg    ConsumerConfig
		exists bool
		want   *APIError
	}{
		{"disjoint", ConsumerConfig{FilterSubject: "w.b"}, false, nil},
		{"overlap", ConsumerConfig{FilterSubject: "w.*"}, false, errConsumerWQNotUnique},
		{"unfiltered beside another", ConsumerConfig{}, false, errConsumerWQMultiUnfilter},
		{"pull ack none", ConsumerConfig{FilterSubject: "w.c", AckPolicy: "none"}, false, errConsumerWQPullAck},
		{"ack all", ConsumerConfig{FilterSubject: "w.c", AckPolicy: "all"}, false, errConsumerWQExplicitAck},
		{"deliver new", ConsumerConfig{FilterSubject: "w.c", DeliverPolicy: "new"}, false, errConsumerWQDeliverAll},
		{"update of wa itself", ConsumerConfig{FilterSubject: "w.>"}, true, nil},
	}
	for _, tc := range cases {
		cfg := tc.cfg
		cfg.defaults()
		name := "new"
		if tc.exists {
			name = "wa"
		}
		if got := s.checkWorkQueueConsumer(name, &cfg, tc.exists); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
