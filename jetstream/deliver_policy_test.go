package jetstream_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"
)

// deliverPolicyScenario stores a few messages on three subjects, creates
// a pull consumer per deliver policy, publishes one more message and
// fetches what each consumer delivers, with its num_pending at creation.
func deliverPolicyScenario(t *testing.T, nc *nats.Conn) map[string]string {
	t.Helper()
	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	s, err := js.CreateStream(c, njs.StreamConfig{Name: "DP", Subjects: []string{"dp.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"dp.a", "dp.b", "dp.a", "dp.c", "dp.b", "dp.a"} {
		if _, err := js.Publish(c, subj, nil); err != nil {
			t.Fatal(err)
		}
	}
	policies := []struct {
		name string
		cfg  njs.ConsumerConfig
	}{
		{"all", njs.ConsumerConfig{DeliverPolicy: njs.DeliverAllPolicy}},
		{"last", njs.ConsumerConfig{DeliverPolicy: njs.DeliverLastPolicy}},
		{"new", njs.ConsumerConfig{DeliverPolicy: njs.DeliverNewPolicy}},
		{"last_per_subject", njs.ConsumerConfig{DeliverPolicy: njs.DeliverLastPerSubjectPolicy, FilterSubject: "dp.>"}},
		{"last_per_subject filtered", njs.ConsumerConfig{DeliverPolicy: njs.DeliverLastPerSubjectPolicy, FilterSubjects: []string{"dp.a", "dp.c"}}},
		{"by_start_sequence", njs.ConsumerConfig{DeliverPolicy: njs.DeliverByStartSequencePolicy, OptStartSeq: 4}},
	}
	cons := map[string]njs.Consumer{}
	out := map[string]string{}
	for i, p := range policies {
		p.cfg.Durable = fmt.Sprintf("c%d", i)
		p.cfg.AckPolicy = njs.AckExplicitPolicy
		cn, err := s.CreateConsumer(c, p.cfg)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		cons[p.name] = cn
		out[p.name] = fmt.Sprintf("pending %d:", cn.CachedInfo().NumPending)
	}
	if _, err := js.Publish(c, "dp.c", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		batch, err := cons[p.name].Fetch(20, njs.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var seqs []string
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			seqs = append(seqs, fmt.Sprintf("%d", md.Sequence.Stream))
			m.Ack()
		}
		out[p.name] += " " + fmt.Sprint(seqs)
	}
	return out
}

// TestDeliverPoliciesSideBySide compares what each deliver policy
// delivers on nats-server 2.15 and on Murmur.
func TestDeliverPoliciesSideBySide(t *testing.T) {
	ref := deliverPolicyScenario(t, startNatsServer(t))
	nc, err := nats.Connect(startNode(t, t.TempDir()).srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := deliverPolicyScenario(t, nc)
	keys := make([]string, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got[k] != ref[k] {
			t.Errorf("%s: murmur %q, nats-server %q", k, got[k], ref[k])
		} else {
			t.Logf("%s: %s", k, got[k])
		}
	}
	if want := "pending 3: [4 5 6 7]"; ref["last_per_subject"] != want {
		t.Errorf("nats-server's last_per_subject: %q, want %q", ref["last_per_subject"], want)
	}
}

// TestDeliverPolicyErrorsSideBySide: impossible start options and
// overlapping filters get nats-server's error codes.
func TestDeliverPolicyErrorsSideBySide(t *testing.T) {
	ref := startNatsServer(t)
	ours, err := nats.Connect(startNode(t, t.TempDir()).srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	cases := []string{
		`{"deliver_policy":"all","opt_start_seq":3,"ack_policy":"explicit"}`,
		`{"deliver_policy":"new","opt_start_time":"2026-01-01T00:00:00Z","ack_policy":"explicit"}`,
		`{"deliver_policy":"last_per_subject","ack_policy":"explicit"}`,
		`{"deliver_policy":"by_start_sequence","ack_policy":"explicit"}`,
		`{"deliver_policy":"by_start_time","opt_start_seq":2,"ack_policy":"explicit"}`,
		`{"deliver_policy":"all","filter_subjects":["dp.*","dp.a"],"ack_policy":"explicit"}`,
		`{"deliver_policy":"all","filter_subjects":["dp.*.x","dp.a.*"],"ack_policy":"explicit"}`,
		`{"deliver_policy":"last_per_subject","filter_subject":"dp.a","ack_policy":"explicit"}`,
	}
	for _, nc := range []*nats.Conn{ref, ours} {
		if c := errCode(t, nc, "$JS.API.STREAM.CREATE.DP", `{"name":"DP","subjects":["dp.>"]}`); c != 0 {
			t.Fatalf("stream create: %d", c)
		}
	}
	for i, cfg := range cases {
		body := fmt.Sprintf(`{"stream_name":"DP","config":%s}`, cfg)
		subject := fmt.Sprintf("$JS.API.CONSUMER.CREATE.DP.c%d", i)
		want, got := errCode(t, ref, subject, body), errCode(t, ours, subject, body)
		if got != want {
			t.Errorf("%s: murmur %d, nats-server %d", cfg, got, want)
		}
		t.Logf("%s: %d", cfg, got)
	}
}
