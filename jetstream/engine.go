// Package jetstream is Murmur's JetStream: streams and pull consumers
// behind nats-server's $JS.API, for one account of one broker.
//
// An Engine owns one goroutine. Messages reach it through Handle (called
// on publishers' goroutines, which only queue them); the goroutine applies
// each to the stream and consumer state machines, flushes the stores, and
// only then publishes what they produced (PubAcks, deliveries, API
// replies), so a PubAck is never sent for a message not yet handed to the
// operating system.
package jetstream

import (
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Conn is the engine's connection into its account: the broker's internal
// client. Subscribe's id comes back with each message to Handle.
type Conn interface {
	Subscribe(subject string) (int, error)
	Unsubscribe(id int)
	// Publish sends a message; deliverTo, when set, is the subject
	// subscriptions are matched on while they see subject.
	Publish(subject, deliverTo, reply string, hdr, data []byte)
	// HasInterest reports whether any subscription in the account (on this
	// broker or, through routes and leaves, elsewhere) matches subject: a
	// push consumer's deliver subject, an advisory. It must not block.
	HasInterest(subject string) bool
}

// Config is the JetStream configuration (nats-server's jetstream block).
type Config struct {
	StoreDir     string        // where file streams live
	MaxMemory    int64         // bytes of memory streams (<= 0: no limit)
	MaxStore     int64         // bytes of file streams (<= 0: no limit)
	SyncInterval time.Duration // fsync period of file stores (0: 2 min)
	SyncAlways   bool          // fsync after every batch
	ServerName   string        // reported as the streams' leader
	Domain       string        // JetStream domain: the API also on $JS.<domain>.API.> (domain.go)
	TickInterval time.Duration // timer resolution (0: 50 ms)
	// Server is shared by the engines of all accounts on the broker, so
	// MaxMemory and MaxStore bound their sum (usage_server.go); nil: the
	// engine counts alone.
	Server *ServerUsage
}

type inMsg struct {
	sub            int
	subject, reply string
	hdr, data      []byte
}

// Engine is JetStream for one account.
type Engine struct {
	cfg     Config
	account string
	log     *zap.Logger
	conn    Conn

	in   *inbox // inbox.go
	done chan struct{}
	wg   sync.WaitGroup
	// turn is held by whoever runs the engine: the run goroutine for each
	// thing it does, or a publisher doing its batch's work (inline.go).
	turn sync.Mutex
	// apiSub, ackSub, fcSub are the engine's own subscriptions, set by
	// Start.
	apiSub, ackSub, fcSub int

	// Owned by the holder of turn (and by Start before it runs).
	streams map[string]*stream
	bySub   map[int]*stream
	usage   accountUsage
	api     APIStats
	out     []output
	ops     opsState // limits, advisories, reads (ops.go)
}

// New returns an engine for account; Start it with its connection.
func New(cfg Config, account string, log *zap.Logger) *Engine {
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 2 * time.Minute
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 50 * time.Millisecond
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Server == nil {
		cfg.Server = &ServerUsage{}
	}
	return &Engine{
		cfg: cfg, account: account, log: log.With(zap.String("component", "jetstream"), zap.String("account", account)),
		in: newInbox(), done: make(chan struct{}),
		streams: map[string]*stream{}, bySub: map[int]*stream{},
		usage: accountUsage{maxMem: cfg.MaxMemory, maxStore: cfg.MaxStore, srv: cfg.Server},
		api:   APIStats{Level: apiLevel},
		ops:   newOpsState(cfg.Domain),
	}
}

// Handle queues one message of subscription sub. It copies the slices;
// it may be called from any goroutine, and waits while the engine is
// maxInboxBytes behind (inbox.go).
func (e *Engine) Handle(sub int, subject, reply string, hdr, data []byte) {
	sub, subject = e.fromDomain(sub, subject)
	e.in.put(sub, subject, reply, hdr, data)
}

// The engine's own subscriptions.
const (
	subAPI = -1
	subAck = -2
	subFC  = -3 // flow control answers of push consumers (push.go)
)

// Start recovers the stored streams, subscribes and starts the goroutine.
func (e *Engine) Start(conn Conn) error {
	e.turn.Lock()
	defer e.turn.Unlock()
	e.conn = selfConn{Conn: conn, q: e.in}
	if err := e.recoverStreams(); err != nil {
		return err
	}
	e.startSources(time.Now())
	api, err := conn.Subscribe("$JS.API.>")
	if err != nil {
		return err
	}
	if err := e.subscribeDomain(conn, api); err != nil {
		return err
	}
	ack, err := conn.Subscribe("$JS.ACK.>")
	if err != nil {
		return err
	}
	fc, err := conn.Subscribe(fcPrefix + ">")
	if err != nil {
		return err
	}
	e.apiSub, e.ackSub, e.fcSub = api, ack, fc
	e.wg.Add(1)
	go e.run()
	e.log.Info("JetStream ready", zap.Int("streams", len(e.streams)))
	return nil
}

// Close stops the goroutine, saves consumer state and closes the stores.
func (e *Engine) Close() {
	if !e.in.close() {
		return
	}
	close(e.done)
	e.wg.Wait()
}

func (e *Engine) run() {
	defer e.wg.Done()
	tick := time.NewTicker(e.cfg.TickInterval)
	defer tick.Stop()
	sync := time.NewTicker(e.cfg.SyncInterval)
	defer sync.Stop()
	save := time.NewTicker(time.Second)
	defer save.Stop()
	defer e.shutdown()
	for {
		select {
		case <-e.done:
			return
		case <-e.in.wake:
			e.turn.Lock()
			e.drain()
		case now := <-tick.C:
			e.turn.Lock()
			for _, s := range e.streams {
				s.expire(now, &e.usage)
				s.sweepHead(&e.usage)
				for _, c := range s.consumers {
					e.tickPause(c, now)
					e.out = c.tick(now, e.out)
				}
				e.expireConsumers(s, now)
			}
		case <-sync.C:
			e.turn.Lock()
			for _, s := range e.streams {
				if err := s.st.Sync(); err != nil {
					e.log.Error("sync", zap.String("stream", s.cfg.Name), zap.Error(err))
				}
			}
		case <-save.C:
			e.turn.Lock()
			e.saveConsumers(false)
			e.saveSources()
		case f := <-e.ops.calls:
			e.turn.Lock()
			f()
		}
		e.emit()
		e.turn.Unlock()
	}
}

// emit flushes the stores, then publishes what the batch produced.
func (e *Engine) emit() {
	if len(e.out) == 0 {
		return
	}
	for _, s := range e.streams {
		var err error
		if e.cfg.SyncAlways {
			err = s.st.Sync()
		} else {
			err = s.st.Flush()
		}
		if err != nil {
			e.log.Error("flush", zap.String("stream", s.cfg.Name), zap.Error(err))
		}
	}
	e.publishOut()
	clear(e.out)
	e.out = e.out[:0]
}

func (e *Engine) shutdown() {
	e.turn.Lock()
	defer e.turn.Unlock()
	e.emit()
	e.saveConsumers(true)
	e.saveSources()
	for _, s := range e.streams {
		if err := s.st.Close(); err != nil {
			e.log.Error("close", zap.String("stream", s.cfg.Name), zap.Error(err))
		}
	}
	e.release()
}

func (e *Engine) handlePublish(s *stream, m *inMsg, now time.Time) {
	subject := s.transformSubject(m.subject)
	last := s.lastOnSubject(subject)
	ack, stored := s.storeMsg(subject, m.hdr, m.data, now, now, &e.usage, false)
	ack.Domain = e.ops.domain
	if m.reply != "" && !s.cfg.NoAck {
		e.replyPubAck(m.reply, &ack)
	}
	if stored {
		e.stored(s, ack.Seq, subject, m.hdr, m.data, now, last, now, 0)
	}
}

// handleAck applies $JS.ACK.<stream>.<consumer>.<count>.<sseq>.<cseq>.<ts>.<pending>.
func (e *Engine) handleAck(m *inMsg, now time.Time) {
	t := strings.Split(m.subject, ".")
	if len(t) < 9 {
		return
	}
	if len(t) >= 12 { // v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>...
		t = append(t[:2], t[4:]...)
	}
	s := e.streams[t[2]]
	if s == nil {
		return
	}
	c := s.consumers[t[3]]
	if c == nil {
		return
	}
	seq := parseUint(t[5])
	body := strings.TrimSpace(string(m.data))
	kind, arg, _ := strings.Cut(body, " ")
	if kind == "" {
		kind = "+ACK"
	}
	var delay time.Duration
	if kind == "-NAK" && arg != "" {
		var d struct {
			Delay time.Duration `json:"delay"`
		}
		if decode([]byte(arg), &d) == nil {
			delay = d.Delay
		}
	}
	floor := c.state.AckFloor.Stream
	e.sampleAck(c, seq, kind, now)
	e.adviseAck(c, kind, arg, seq, parseUint(t[6]), parseUint(t[4]))
	c.ack(seq, kind, delay, now)
	s.afterAck(c, seq, floor, kind, &e.usage)
	if m.reply != "" {
		e.out = append(e.out, output{subject: m.reply})
	}
	if kind == "+NXT" && m.reply != "" {
		e.out = c.pull(m.reply, pullRequest{Batch: 1}, now, e.out)
	}
	e.out = c.deliver(now, e.out)
}

// expireConsumers deletes ephemeral consumers idle past their threshold.
func (e *Engine) expireConsumers(s *stream, now time.Time) {
	for name, c := range s.consumers {
		if c.cfg.Durable == "" && c.cfg.InactiveThreshold > 0 && len(c.waiting) == 0 && now.Sub(c.active) > c.cfg.InactiveThreshold {
			e.deleteConsumer(s, name)
		}
	}
}
