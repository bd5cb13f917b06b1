package jetstream

import (
	"encoding/json"
	"strings"
	"sync"
)

// Refuser answers the JetStream API in an account that has no JetStream
// while the server has it (accounts are configured and this one has no
// jetstream key, or jetstream: disabled), as nats-server does: every
// request is answered with 10039 "JetStream not enabled for account"
// under the response type of its subject. Pull requests and direct gets
// are left unanswered (they are not typed API requests).
type Refuser struct {
	conn Conn

	mu     sync.Mutex
	queue  []refusal
	closed bool
	wake   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

type refusal struct{ subject, reply string }

// NewRefuser returns a refuser; Start it with the account's connection.
func NewRefuser() *Refuser {
	return &Refuser{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Handle queues one request; it never blocks.
func (r *Refuser) Handle(_ int, subject, reply string, _, _ []byte) {
	if reply == "" {
		return
	}
	r.mu.Lock()
	if !r.closed {
		r.queue = append(r.queue, refusal{subject: subject, reply: reply})
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Start subscribes to $JS.API.> and starts answering.
func (r *Refuser) Start(conn Conn) error {
	r.conn = conn
	if _, err := conn.Subscribe(apiPrefix + ">"); err != nil {
		return err
	}
	r.wg.Add(1)
	go r.run()
	return nil
}

// Close stops answering and waits for the goroutine.
func (r *Refuser) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
}

func (r *Refuser) run() {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case <-r.wake:
		}
		r.mu.Lock()
		q := r.queue
		r.queue = nil
		r.mu.Unlock()
		for _, m := range q {
			typ, ok := refusedType(strings.TrimPrefix(m.subject, apiPrefix))
			if !ok {
				continue
			}
			b, _ := json.Marshal(errResponse{Type: typ, Error: errNotEnabledAccount})
			r.conn.Publish(m.reply, "", "", nil, b)
		}
	}
}

// refusedType is the response type of an API subject (without
// $JS.API.), or false for a request that is not answered.
func refusedType(op string) (string, bool) {
	t := strings.Split(op, ".")
	at := func(i int) string {
		if i < len(t) {
			return t[i]
		}
		return ""
	}
	switch at(0) {
	case "INFO":
		return typeAccountInfo, true
	case "STREAM":
		switch at(1) {
		case "CREATE":
			return typeStreamCreate, true
		case "UPDATE":
			return typeStreamUpdate, true
		case "INFO":
			return typeStreamInfo, true
		case "DELETE":
			return typeStreamDelete, true
		case "PURGE":
			return typeStreamPurge, true
		case "NAMES":
			return typeStreamNames, true
		case "LIST":
			return typeStreamList, true
		case "MSG":
			if at(2) == "GET" {
				return typeMsgGet, true
			}
			return typeMsgDelete, true
		}
	case "CONSUMER":
		switch at(1) {
		case "CREATE", "DURABLE":
			return typeConsumerCreate, true
		case "INFO":
			return typeConsumerInfo, true
		case "DELETE":
			return typeConsumerDelete, true
		case "NAMES":
			return typeConsumerNames, true
		case "LIST":
			return typeConsumerList, true
		}
	}
	return "", false
}
