package jetstream

import (
	"testing"
	"time"
)

// fakeConn is a Conn with no broker behind it.
type fakeConn struct{ next int }

func (f *fakeConn) Subscribe(string) (int, error)                  { f.next++; return f.next, nil }
func (f *fakeConn) Unsubscribe(int)                                {}
func (f *fakeConn) Publish(string, string, string, []byte, []byte) {}
func (f *fakeConn) HasInterest(string) bool                        { return true }

// FuzzAPIRequest feeds arbitrary API subjects and bodies to the request
// decoder and handlers of a memory-only engine: an error answer, never a
// panic.
func FuzzAPIRequest(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"STREAM.CREATE.S", `{"name":"S","subjects":["s.>"],"max_msgs":3}`},
		{"STREAM.UPDATE.S", `{"name":"S","subjects":["s.*"],"max_age":-1}`},
		{"STREAM.MSG.GET.S", `{"last_by_subj":"s.a"}`},
		{"STREAM.PURGE.S", `{"filter":"s.a","keep":1}`},
		{"CONSUMER.CREATE.S.c.s.a", `{"stream_name":"S","config":{"name":"c","filter_subject":"s.a","backoff":[1,2]}}`},
		{"CONSUMER.MSG.NEXT.S.c", `{"batch":2,"no_wait":true}`},
		{"STREAM.NAMES", `{"offset":-1}`},
		{"DIRECT.GET.S.s.a", ``},
		{"CONSUMER.CREATE.S.p", `{"stream_name":"S","config":{"name":"p","deliver_subject":"d.p","flow_control":true,"idle_heartbeat":100000000,"rate_limit_bps":800,"replay_policy":"original","headers_only":true,"deliver_policy":"last_per_subject"}}`},
		{"CONSUMER.PAUSE.S.p", `{"pause_until":"2099-01-01T00:00:00Z"}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body)
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		e := New(Config{}, "$G", nil)
		e.conn = &fakeConn{}
		now := time.Unix(1700000000, 0)
		setup := &inMsg{subject: apiPrefix + "STREAM.CREATE.S", reply: "r", data: []byte(`{"name":"S","subjects":["s.>"],"storage":"memory","allow_direct":true}`)}
		e.handleAPI(setup, now)
		pub := &inMsg{subject: "s.a", reply: "r", data: []byte("x")}
		for _, s := range e.streams {
			e.handlePublish(s, pub, now)
		}
		e.handleAPI(&inMsg{subject: apiPrefix + op, reply: "r", data: []byte(body)}, now)
		e.handleAck(&inMsg{subject: "$JS.ACK.S.c.1.1.1.0.0", data: []byte(body)}, now)
		for _, s := range e.streams {
			e.handlePublish(s, pub, now)
			for _, c := range s.consumers {
				e.out = c.tick(now.Add(time.Minute), e.out)
			}
		}
	})
}
