package broker

import (
	"strconv"
	"sync"

	"github.com/murmurmq/murmur/mux"
)

// interest counts the local (client) subscriptions per subject and per
// subject+queue, and tells every route about changes: RS+ on a plain
// subject's first subscriber and RS- after its last; for a queue group RS+
// with the member count (weight) on every change and RS- at zero. Many
// subscribers on one subject cost one RS+, not one each.
type interest struct {
	mu     sync.Mutex
	plain  map[plainKey]int
	queues map[queueKey]int
	routes map[*route]struct{}
}

// Interest is counted per account: the same subject in two accounts is
// two entries, and each RS+/RS- names its account.
type (
	plainKey struct{ acc, subject string }
	queueKey struct{ acc, subject, queue string }
)

func newInterest() *interest {
	return &interest{
		plain:  make(map[plainKey]int),
		queues: make(map[queueKey]int),
		routes: make(map[*route]struct{}),
	}
}

// changed applies a local subscription of account acc added (delta +1)
// or removed (-1).
func (in *interest) changed(acc string, s *mux.Sub, delta int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var line []byte
	if s.Queue == "" {
		k := plainKey{acc, s.Subject}
		n := in.plain[k] + delta
		switch {
		case n <= 0:
			delete(in.plain, k)
			line = appendRSMinus(nil, acc, s.Subject, "")
		case n == 1 && delta > 0:
			line = appendRSPlus(nil, acc, s.Subject, "", 0)
		}
		if n > 0 {
			in.plain[k] = n
		}
	} else {
		k := queueKey{acc, s.Subject, s.Queue}
		n := in.queues[k] + delta
		if n <= 0 {
			delete(in.queues, k)
			line = appendRSMinus(nil, acc, s.Subject, s.Queue)
		} else {
			in.queues[k] = n
			line = appendRSPlus(nil, acc, s.Subject, s.Queue, n)
		}
	}
	if line == nil {
		return
	}
	for r := range in.routes {
		r.enqueue(line)
	}
}

// addRoute sends r the whole local interest and subscribes it to changes,
// atomically, so no change is missed or sent twice.
func (in *interest) addRoute(r *route) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var b []byte
	for k := range in.plain {
		b = appendRSPlus(b, k.acc, k.subject, "", 0)
	}
	for k, n := range in.queues {
		b = appendRSPlus(b, k.acc, k.subject, k.queue, n)
	}
	if len(b) > 0 {
		r.enqueue(b)
	}
	in.routes[r] = struct{}{}
}

func (in *interest) removeRoute(r *route) {
	in.mu.Lock()
	delete(in.routes, r)
	in.mu.Unlock()
}

func appendRSPlus(b []byte, acc, subject, queue string, weight int) []byte {
	b = append(b, "RS+ "...)
	b = append(b, acc...)
	b = append(b, ' ')
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(weight), 10)
	}
	return append(b, crlf...)
}

func appendRSMinus(b []byte, acc, subject, queue string) []byte {
	b = append(b, "RS- "...)
	b = append(b, acc...)
	b = append(b, ' ')
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
	}
	return append(b, crlf...)
}
