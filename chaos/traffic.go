package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects of the plain traffic.
const (
	pubSubject   = "chaos.pub"   // chaos.pub.<publisher>: sequenced messages
	queueGroup   = "workers"     // every broker has one member
	svcSubject   = "chaos.svc"   // request/reply service, queue group "svc"
	replySubject = "chaos.reply" // chaos.reply.<requester>.<id>
)

// requestTimeout is how long a requester waits for its reply.
const requestTimeout = 2 * time.Second

// rates are the per-client send rates (messages per second).
type rates struct {
	publish, request, direct, broadcast float64
}

func (r rates) scaled(f float64) rates {
	return rates{r.publish * f, r.request * f, r.direct * f, r.broadcast * f}
}

var defaultRates = rates{publish: 50, request: 10, direct: 20, broadcast: 2}

// traffic is every plain nats.go client of the run: on each broker a
// connection that publishes sequenced messages and sends requests, one
// with a plain subscriber, and one with a queue-group member and a
// responder. Times are offsets from the run's start.
type traffic struct {
	start time.Time
	n     int
	rates rates

	pubs  []*publisher
	subs  []*receiver // plain subscribers
	qs    []*receiver // queue-group members
	reqs  []*requester
	conns []*nats.Conn

	stop chan struct{}
	wg   sync.WaitGroup
}

// publisher sends chaos.pub.<idx> with seq 1, 2, ...; sent[seq-1] is when
// Publish returned nil, or -1 when it failed (not expected anywhere).
type publisher struct {
	idx  int
	nc   *nats.Conn
	mu   sync.Mutex
	sent []int64
}

// receiver records, per publisher, the seqs it got in arrival order.
type receiver struct {
	idx int
	mu  sync.Mutex
	got [][]uint32
}

// requester sends requests with its own reply subjects, so it sees every
// reply (nats.go's Request keeps only the first).
type requester struct {
	idx   int
	nc    *nats.Conn
	start time.Time
	mu    sync.Mutex
	// per request id (index id-1): when sent (-1: Publish failed), how many
	// replies came, when the first came, whether a 503 came.
	sent     []int64
	replies  []uint8
	firstAt  []int64
	noResp   []bool
	nextID   atomic.Uint32
	sendErrs int
}

func (t *traffic) since() int64 { return int64(time.Since(t.start)) }

func clientOptions(name string, onEvent func(string)) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond),
		nats.PingInterval(time.Second),
		nats.MaxPingsOutstanding(3),
		nats.Timeout(2 * time.Second),
		nats.DontRandomize(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { onEvent(fmt.Sprintf("%s disconnected: %v", name, err)) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { onEvent(fmt.Sprintf("%s reconnected to %s", name, nc.ConnectedUrl())) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			onEvent(fmt.Sprintf("%s async error: %v", name, err))
		}),
	}
}

// startTraffic connects every client (broker i's first), subscribes and
// flushes, and only then starts sending.
func startTraffic(c *cluster, r rates, start time.Time, logf func(string, ...any)) (*traffic, error) {
	n := len(c.brokers)
	t := &traffic{start: start, n: n, rates: r, stop: make(chan struct{})}
	event := func(s string) { logf("client: %s", s) }
	connect := func(i int, role string) (*nats.Conn, error) {
		nc, err := nats.Connect(strings.Join(c.URLs(i), ","), clientOptions(fmt.Sprintf("%s-%d", role, i), event)...)
		if err != nil {
			return nil, fmt.Errorf("%s-%d connect: %w", role, i, err)
		}
		t.conns = append(t.conns, nc)
		return nc, nil
	}
	for i := 0; i < n; i++ {
		pc, err := connect(i, "pub")
		if err != nil {
			return t, err
		}
		t.pubs = append(t.pubs, &publisher{idx: i, nc: pc})
		rq := &requester{idx: i, nc: pc, start: start}
		if _, err := pc.Subscribe(fmt.Sprintf("%s.%d.*", replySubject, i), rq.onReply); err != nil {
			return t, err
		}
		t.reqs = append(t.reqs, rq)

		sc, err := connect(i, "sub")
		if err != nil {
			return t, err
		}
		s := &receiver{idx: i, got: make([][]uint32, n)}
		if _, err := sc.Subscribe(pubSubject+".*", s.onMsg); err != nil {
			return t, err
		}
		t.subs = append(t.subs, s)

		qc, err := connect(i, "queue")
		if err != nil {
			return t, err
		}
		q := &receiver{idx: i, got: make([][]uint32, n)}
		if _, err := qc.QueueSubscribe(pubSubject+".*", queueGroup, q.onMsg); err != nil {
			return t, err
		}
		name := []byte(strconv.Itoa(i))
		if _, err := qc.QueueSubscribe(svcSubject, "svc", func(m *nats.Msg) {
			_ = m.Respond(append(append(append([]byte(nil), name...), ' '), m.Data...))
		}); err != nil {
			return t, err
		}
		t.qs = append(t.qs, q)
	}
	for _, nc := range t.conns {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			return t, fmt.Errorf("flush after subscribing: %w", err)
		}
	}
	for i := 0; i < n; i++ {
		t.every(r.publish, t.pubs[i].publish)
		t.every(r.request, t.reqs[i].request)
	}
	return t, nil
}

// every runs f at rate per second until stop.
func (t *traffic) every(rate float64, f func(now int64)) {
	if rate <= 0 {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				f(t.since())
			}
		}
	}()
}

func (p *publisher) publish(now int64) {
	p.mu.Lock()
	seq := len(p.sent) + 1
	p.sent = append(p.sent, now)
	p.mu.Unlock()
	subject := pubSubject + "." + strconv.Itoa(p.idx)
	if err := p.nc.Publish(subject, strconv.AppendInt(nil, int64(seq), 10)); err != nil {
		p.mu.Lock()
		p.sent[seq-1] = -1
		p.mu.Unlock()
	}
}

func (r *receiver) onMsg(m *nats.Msg) {
	pub, err := strconv.Atoi(m.Subject[len(pubSubject)+1:])
	if err != nil || pub < 0 {
		return
	}
	seq, err := strconv.ParseUint(string(m.Data), 10, 32)
	if err != nil {
		return
	}
	r.mu.Lock()
	if pub < len(r.got) {
		r.got[pub] = append(r.got[pub], uint32(seq))
	}
	r.mu.Unlock()
}

func (q *requester) request(now int64) {
	id := q.nextID.Add(1)
	q.mu.Lock()
	q.sent = append(q.sent, now)
	q.replies = append(q.replies, 0)
	q.firstAt = append(q.firstAt, 0)
	q.noResp = append(q.noResp, false)
	q.mu.Unlock()
	reply := fmt.Sprintf("%s.%d.%d", replySubject, q.idx, id)
	if err := q.nc.PublishRequest(svcSubject, reply, strconv.AppendUint(nil, uint64(id), 10)); err != nil {
		q.mu.Lock()
		q.sent[id-1] = -1
		q.sendErrs++
		q.mu.Unlock()
	}
}

// onReply counts replies per request id; a 503 status (no responders)
// is counted apart.
func (q *requester) onReply(m *nats.Msg) {
	at := time.Now()
	dot := strings.LastIndexByte(m.Subject, '.')
	id, err := strconv.ParseUint(m.Subject[dot+1:], 10, 32)
	if err != nil || id == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if int(id) > len(q.sent) {
		return
	}
	if m.Header.Get("Status") == "503" {
		q.noResp[id-1] = true
		return
	}
	if q.replies[id-1] == 0 {
		q.firstAt[id-1] = int64(at.Sub(q.start))
	}
	if q.replies[id-1] < 255 {
		q.replies[id-1]++
	}
}

// halt stops sending and waits for the senders.
func (t *traffic) halt() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.wg.Wait()
}

// connected reports whether every client connection is up.
func (t *traffic) connected() string {
	for _, nc := range t.conns {
		if !nc.IsConnected() {
			return fmt.Sprintf("client %s is %v", nc.Opts.Name, nc.Status())
		}
	}
	return ""
}

// flush flushes every client connection; with the interest barrier, each
// subscription is then known cluster-wide.
func (t *traffic) flush(d time.Duration) error {
	for _, nc := range t.conns {
		if err := nc.FlushTimeout(d); err != nil {
			return fmt.Errorf("%s flush: %w", nc.Opts.Name, err)
		}
	}
	return nil
}

// close closes every connection.
func (t *traffic) close() {
	t.halt()
	for _, nc := range t.conns {
		nc.Close()
	}
}

// waitDelivered waits, after halt, until every plain subscriber has the
// last message each publisher sent, and until the last requests have had
// their time to be answered; at most d.
func (t *traffic) waitDelivered(d time.Duration) {
	halted := time.Now()
	deadline := halted.Add(d)
	for time.Now().Before(deadline) {
		if time.Since(halted) >= requestTimeout && t.allDelivered() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *traffic) allDelivered() bool {
	for _, p := range t.pubs {
		p.mu.Lock()
		last := uint32(len(p.sent))
		for last > 0 && p.sent[last-1] < 0 {
			last--
		}
		p.mu.Unlock()
		if last == 0 {
			continue
		}
		for _, s := range t.subs {
			s.mu.Lock()
			got := s.got[p.idx]
			ok := len(got) > 0 && got[len(got)-1] == last
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
	}
	return true
}
