package jetstream

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPendingCache runs random publishes, deletes, purges and pulls on a
// memory stream and checks after each that every consumer's cached
// num_pending equals a count from scratch.
func TestPendingCache(t *testing.T) {
	e := New(Config{}, "$G", nil)
	e.conn = &fakeConn{}
	now := time.Unix(1700000000, 0)
	api := func(op, body string) {
		e.handleAPI(&inMsg{subject: apiPrefix + op, reply: "r", data: []byte(body)}, now)
	}
	api("STREAM.CREATE.S", `{"name":"S","subjects":["a.>","b.>"],"storage":"memory","max_msgs_per_subject":4,"max_msgs":40}`)
	filters := map[string]string{"all": "", "a": `"filter_subject":"a.>"`, "ax": `"filter_subject":"a.x"`, "both": `"filter_subjects":["a.>","b.>"]`}
	for name, f := range filters {
		if f != "" {
			f = "," + f
		}
		api("CONSUMER.CREATE.S."+name, `{"stream_name":"S","config":{"name":"`+name+`","ack_policy":"none","inactive_threshold":3600000000000`+f+`}}`)
	}
	s := e.streams["S"]
	if len(s.consumers) != len(filters) {
		t.Fatalf("%d consumers", len(s.consumers))
	}
	subjects := []string{"a.x", "a.y", "b.x", "b.y"}
	r := rand.New(rand.NewPCG(7, 9))
	for step := 0; step < 3000; step++ {
		var what string
		switch k := r.IntN(20); {
		case k < 10:
			what = "publish"
			e.handlePublish(s, &inMsg{subject: subjects[r.IntN(len(subjects))], data: []byte("x")}, now)
		case k < 13:
			st := s.st.State()
			seq := st.FirstSeq + uint64(r.IntN(int(st.LastSeq-st.FirstSeq+2)))
			what = fmt.Sprintf("delete %d", seq)
			api("STREAM.MSG.DELETE.S", fmt.Sprintf(`{"seq":%d}`, seq))
		case k == 13:
			what = "purge"
			api("STREAM.PURGE.S", `{"filter":"`+subjects[r.IntN(len(subjects))]+`","keep":1}`)
		default:
			names := []string{"all", "a", "ax", "both"}
			name := names[r.IntN(len(names))]
			what = "pull " + name
			api("CONSUMER.MSG.NEXT.S."+name, fmt.Sprintf(`{"batch":%d,"no_wait":true}`, 1+r.IntN(3)))
		}
		e.out = e.out[:0]
		for name, c := range s.consumers {
			if got, want := c.numPending(), c.countFrom(c.state.NextSeq); got != want {
				t.Fatalf("step %d (%s): consumer %s num_pending %d, counted %d", step, what, name, got, want)
			}
		}
	}
}
