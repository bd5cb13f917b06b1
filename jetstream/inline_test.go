package jetstream

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// recConn is a Conn that records what the engine publishes, by subject.
type recConn struct {
	mu   sync.Mutex
	next int
	subs map[string]int
	got  map[string][]string
}

func (c *recConn) Subscribe(subject string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	c.subs[subject] = c.next
	return c.next, nil
}
func (c *recConn) Unsubscribe(int)         {}
func (c *recConn) HasInterest(string) bool { return false }
func (c *recConn) Publish(subject, _, _ string, _, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[subject] = append(c.got[subject], string(data))
}

func (c *recConn) answers(subject string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got[subject]...)
}

func (c *recConn) sub(subject string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[subject]
}

// TestInlineFlush: messages given through Queue are applied by Flush on
// the caller's goroutine when the engine is free; a Flush that finds the
// turn held wakes the engine, which applies them once the turn is free;
// each publisher's messages keep their order.
func TestInlineFlush(t *testing.T) {
	conn := &recConn{subs: map[string]int{}, got: map[string][]string{}}
	e := New(Config{StoreDir: t.TempDir()}, "$G", nil)
	if err := e.Start(conn); err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	cfg, _ := json.Marshal(StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: "file"})
	e.Queue(e.apiSub, "$JS.API.STREAM.CREATE.S", "create", nil, cfg)
	e.Flush()
	testutil.Eventually(t, 5*time.Second, "stream created", func() bool { return len(conn.answers("create")) == 1 })
	if a := conn.answers("create")[0]; strings.Contains(a, `"error"`) {
		t.Fatal(a)
	}
	sub := conn.sub("s.>")

	// The turn held elsewhere: Flush must not lose the message.
	e.turn.Lock()
	e.Queue(sub, "s.held", "held", nil, []byte("x"))
	e.Flush()
	e.turn.Unlock()
	testutil.Eventually(t, 5*time.Second, "PubAck after the turn is free", func() bool { return len(conn.answers("held")) == 1 })

	// Concurrent publishers: every message stored once, each one's in order.
	const pubs, n = 4, 200
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for i := range n {
				e.Queue(sub, fmt.Sprintf("s.%d", p), fmt.Sprintf("r.%d", p), nil, []byte("x"))
				if i%7 == 0 {
					continue // a read of several messages: one Flush for them
				}
				e.Flush()
			}
			e.Flush()
		})
	}
	wg.Wait()
	for p := range pubs {
		reply := fmt.Sprintf("r.%d", p)
		testutil.Eventually(t, 5*time.Second, reply+" answered", func() bool { return len(conn.answers(reply)) == n })
		last := uint64(0)
		for _, a := range conn.answers(reply) {
			var ack struct{ Seq uint64 }
			if err := json.Unmarshal([]byte(a), &ack); err != nil || ack.Seq <= last {
				t.Fatalf("%s: PubAck %s after seq %d", reply, a, last)
			}
			last = ack.Seq
		}
	}
}
