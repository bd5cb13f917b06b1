package jetstream

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Cluster is the network side of JetStream on a broker with routes: one
// per account engine. A stream lives on the broker where it was created
// (its owner) and is reached from clients of every broker: the Cluster
// takes this broker's clients' API requests, answers what concerns one
// stream through the owner's engine (forwarded over routes), gathers
// what concerns the account from every broker, and tells the others
// which streams this broker owns. The engine and the stores know nothing
// of it: the engine sees API requests as on a broker of its own
// (docs/jetstream.md, "Cluster").
//
// Its traffic between brokers runs in the system account, where no
// client of the account reaches it (as nats-server's $JSC and $NRG), on
// routes only, under the account's token <acc> (its name, see
// accountToken):
//
//	$MJSC.<acc>.ALL.DIR              a broker's directory (its streams and their subjects)
//	$MJSC.<acc>.ALL.GATHER.<op>      an account-level request, answered by every broker
//	$MJSC.<acc>.<id>.API.<op>        a request for one of broker <id>'s streams
//	$MJSC.<acc>.<id>.G.<n>           a part of an answer broker <id> gathers
//
// A create, update or delete the Cluster holds the answer of is given to
// the engine with the reply $MJSC.<acc>.<id>.R.<n>, which the engine's
// connection hands back to the Cluster without publishing it.
type Cluster struct {
	cfg  ClusterConfig
	e    *Engine
	conn ClusterConn
	log  *zap.Logger

	in   *inbox
	done chan struct{}
	wg   sync.WaitGroup

	// Owned by the run goroutine.
	subAPI, subDomain, subSelf, subAll int
	base, all, self                    string              // "$MJSC.<acc>.", base+"ALL.", base+"<id>."
	local                              map[string][]string // this broker's streams and subjects
	peers                              map[string]*peer
	next                               uint64
	creates                            map[string]pendingChange // by reply subject
	gathers                            map[string]*gather
	streamSubs                         map[string]streamSubs // the engine's streams' acks (cluster_acks.go)

	// toEngine maps the ack and flow-control subscriptions to the
	// engine's ids; read on the publishers' goroutines.
	toEngine atomic.Pointer[map[int]int]
}

// ClusterConfig names the broker in its cluster and sets the timing.
type ClusterConfig struct {
	ServerID   string        // unique in the cluster, a subject token
	ServerName string        // for the log
	Heartbeat  time.Duration // directory announcements (0: 1 s)
	PeerExpiry time.Duration // a broker not heard of that long is gone (0: 3.5 heartbeats)
	Gather     time.Duration // wait for the other brokers' parts of an account-level answer (0: 250 ms)
}

// ClusterConn is the Cluster's connection: into the account (Conn, for
// the clients' requests and the answers to them) and into the system
// account (the traffic between the brokers' Clusters), with
// subscriptions whose interest goes only where the Cluster needs it. The
// ids of both kinds of subscriptions are distinct.
type ClusterConn interface {
	Conn
	// SubscribeLocal subscribes in the account without telling the
	// routes: it gets what this broker's clients and leaf connections
	// publish, never what another broker of the cluster does.
	SubscribeLocal(subject string) (int, error)
	// SubscribeCluster subscribes in the system account telling the
	// routes only: it gets what the Clusters of this broker and of the
	// others publish with PublishCluster.
	SubscribeCluster(subject string) (int, error)
	// PublishCluster publishes in the system account.
	PublishCluster(subject, reply string, hdr, data []byte)
	// AwaitRoutes returns once every routed broker has applied what this
	// broker sent it before the call (bounded; at once without routes).
	// It blocks; the Cluster calls it on goroutines of its own.
	AwaitRoutes()
}

const (
	clusterPrefix  = "$MJSC."
	clusterDir     = "DIR"             // after $MJSC.<acc>.ALL.
	clusterGather  = "GATHER."         // after $MJSC.<acc>.ALL.
	engineAPISub   = math.MinInt32     // the id the engine is given for $JS.API.>
	engineDomainID = math.MinInt32 + 1 // and for $JS.<domain>.API.>
	heldAnswerSub  = math.MinInt32     // in the Cluster's inbox, a held answer
	noDomainSub    = math.MinInt32 + 1 // and the domain's subscription when there is none
)

// NewCluster returns the cluster layer of engine e. Pass Wrap(conn) to
// e.Start instead of the engine's connection, then Start the Cluster.
func NewCluster(e *Engine, cfg ClusterConfig, log *zap.Logger) *Cluster {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.PeerExpiry <= 0 {
		cfg.PeerExpiry = cfg.Heartbeat * 7 / 2
	}
	if cfg.Gather <= 0 {
		cfg.Gather = 250 * time.Millisecond
	}
	if log == nil {
		log = zap.NewNop()
	}
	base := clusterPrefix + accountToken(e.account) + "."
	in := newInbox()
	in.max = math.MaxInt // API requests are small; put never waits (the engine publishes into it)
	return &Cluster{
		cfg: cfg, e: e, log: log.With(zap.String("component", "jetstream-cluster"), zap.String("account", e.account)),
		in: in, done: make(chan struct{}),
		base: base, all: base + "ALL.", self: base + cfg.ServerID + ".", local: map[string][]string{}, peers: map[string]*peer{},
		creates: map[string]pendingChange{}, gathers: map[string]*gather{}, streamSubs: map[string]streamSubs{},
	}
}

// Wrap returns the connection the engine must be started with: conn,
// except that the engine's API subscriptions are the Cluster's.
func (c *Cluster) Wrap(conn Conn) Conn {
	if bc, ok := conn.(BatchConn); ok {
		return clusterBatchConn{clusterEngineConn{conn, c}, bc}
	}
	return clusterEngineConn{conn, c}
}

// clusterEngineConn is the engine's connection under a Cluster: the
// Cluster receives $JS.API.> (and the domain's) and hands the engine
// what it must answer, under the ids returned here.
type clusterEngineConn struct {
	Conn
	c *Cluster
}

func (w clusterEngineConn) Subscribe(subject string) (int, error) {
	switch {
	case subject == apiPrefix+">":
		return engineAPISub, nil
	case w.c.e.ops.domainAPI != "" && subject == w.c.e.ops.domainAPI+">":
		return engineDomainID, nil
	case subject == ackPrefix+">":
		return engineAckSub, nil
	case subject == fcPrefix+">":
		return engineFCSub, nil
	}
	return w.Conn.Subscribe(subject)
}

// Publish hands the answer to a held create, update or delete to the
// Cluster; the rest goes out.
func (w clusterEngineConn) Publish(subject, deliverTo, reply string, hdr, data []byte) {
	if w.c.isHeld(subject) {
		w.c.in.put(heldAnswerSub, subject, reply, hdr, data)
		return
	}
	w.Conn.Publish(subject, deliverTo, reply, hdr, data)
}

type clusterBatchConn struct {
	clusterEngineConn
	bc BatchConn
}

// PublishEach is Publish for a batch: held answers go to the Cluster,
// the rest out in order. It calls msg(i) a second time for what goes
// out (the engine's msg returns the same message each time); a batch
// without a held answer (all but the answer to a stream change) goes
// out as it is.
func (w clusterBatchConn) PublishEach(n int, msg func(i int) (subject, deliverTo, reply string, hdr, data []byte)) {
	var out []int
	for i := range n {
		if subject, _, reply, hdr, data := msg(i); w.c.isHeld(subject) {
			if out == nil {
				out = make([]int, 0, n)
				for j := range i {
					out = append(out, j)
				}
			}
			w.c.in.put(heldAnswerSub, subject, reply, hdr, data)
		} else if out != nil {
			out = append(out, i)
		}
	}
	if out == nil {
		w.bc.PublishEach(n, msg)
		return
	}
	w.bc.PublishEach(len(out), func(i int) (string, string, string, []byte, []byte) { return msg(out[i]) })
}

// isHeld reports whether subject is the reply of a held answer
// (holdAnswer). Any goroutine: c.self does not change.
func (c *Cluster) isHeld(subject string) bool {
	return len(subject) > len(c.self)+2 && subject[:len(c.self)] == c.self && subject[len(c.self):len(c.self)+2] == "R."
}

// Handle queues a message of one of the Cluster's subscriptions (the
// handler of its connection); an ack or a flow-control answer goes to the
// engine at once, as from the engine's own subscription. It never waits
// but as the engine's Handle does.
func (c *Cluster) Handle(sub int, subject, reply string, hdr, data []byte) {
	if id, ok := c.engineSub(sub); ok {
		c.e.Handle(id, subject, reply, hdr, data)
		return
	}
	c.in.put(sub, subject, reply, hdr, data)
}

// Start subscribes and starts the goroutine; the engine must be started.
func (c *Cluster) Start(conn ClusterConn) error {
	c.conn = conn
	var err error
	if c.subAPI, err = conn.SubscribeLocal(apiPrefix + ">"); err != nil {
		return err
	}
	c.subDomain = noDomainSub
	if d := c.e.ops.domainAPI; d != "" {
		if c.subDomain, err = conn.SubscribeLocal(d + ">"); err != nil {
			return err
		}
	}
	if c.subSelf, err = conn.SubscribeCluster(c.self + ">"); err != nil {
		return err
	}
	if c.subAll, err = conn.SubscribeCluster(c.all + ">"); err != nil {
		return err
	}
	c.refreshLocal()
	c.announce()
	c.wg.Add(1)
	go c.run()
	return nil
}

// Close stops the goroutine and waits for answers it holds back.
func (c *Cluster) Close() {
	if !c.in.close() {
		return
	}
	close(c.done)
	c.wg.Wait()
}

func (c *Cluster) run() {
	defer c.wg.Done()
	hb := time.NewTicker(c.cfg.Heartbeat)
	defer hb.Stop()
	tick := time.NewTicker(max(c.cfg.Gather/5, 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.in.wake:
			for _, m := range c.in.take() {
				c.handle(&m)
			}
		case now := <-hb.C:
			c.expirePeers(now)
			c.refreshLocal()
			c.announce()
		case now := <-tick.C:
			c.expireGathers(now)
		}
	}
}

func (c *Cluster) handle(m *inMsg) {
	switch m.sub {
	case heldAnswerSub:
		c.changed(m)
	case c.subAPI:
		c.request(m.subject, m, false)
	case c.subDomain:
		c.request(apiPrefix+strings.TrimPrefix(m.subject, c.e.ops.domainAPI), m, false)
	case c.subSelf:
		rest := strings.TrimPrefix(m.subject, c.self)
		switch {
		case strings.HasPrefix(rest, "API."):
			c.request(apiPrefix+rest[4:], m, true)
		case strings.HasPrefix(rest, "G."):
			c.gathered(m)
		}
	case c.subAll:
		switch rest := strings.TrimPrefix(m.subject, c.all); {
		case rest == clusterDir:
			c.heard(m.data)
		case strings.HasPrefix(rest, clusterGather):
			c.answerGather(strings.TrimPrefix(rest, clusterGather), m)
		}
	default:
		// An ack that came before Handle knew its subscription.
		if id, ok := c.engineSub(m.sub); ok {
			c.e.Handle(id, m.subject, m.reply, m.hdr, m.data)
		}
	}
}

// request routes one API request (subject under $JS.API.): to the owner
// of the stream it names, to every broker for the account-level ones, to
// the local engine otherwise. A forwarded request (from another broker's
// Cluster) is this broker's to answer and goes to the local engine.
func (c *Cluster) request(subject string, m *inMsg, forwarded bool) {
	if m.reply == "" {
		return // nothing to answer; the engine would drop it too
	}
	op := strings.TrimPrefix(subject, apiPrefix)
	name, account := apiScope(op)
	if account && !forwarded {
		if c.scatter(op, m) {
			return
		}
	}
	if name != "" && !forwarded {
		if owner := c.ownerOf(name); owner != "" {
			c.conn.PublishCluster(c.base+owner+".API."+op, m.reply, m.hdr, m.data)
			return
		}
	}
	reply := m.reply
	switch op {
	case "STREAM.CREATE." + name, "STREAM.UPDATE." + name:
		if ae := c.remoteOverlap(name, m.data); ae != nil {
			typ := typeStreamCreate
			if strings.HasPrefix(op, "STREAM.UPDATE.") {
				typ = typeStreamUpdate
			}
			c.publishJSON(m.reply, errResponse{Type: typ, Error: ae})
			return
		}
		reply = c.holdAnswer(m.reply)
	case "STREAM.DELETE." + name:
		reply = c.holdAnswer(m.reply)
	}
	c.e.Handle(engineAPISub, subject, reply, m.hdr, m.data)
}

// apiScope says what an API request (subject without $JS.API.) concerns:
// one stream (its name), the account (the account info and the stream
// names and list), or neither.
func apiScope(op string) (stream string, account bool) {
	t := strings.Split(op, ".")
	arg := func(i int) string {
		if i < len(t) {
			return t[i]
		}
		return ""
	}
	switch arg(0) {
	case "INFO":
		return "", len(t) == 1
	case "STREAM":
		switch arg(1) {
		case "NAMES", "LIST":
			return "", len(t) == 2
		case "MSG", "PEER", "LEADER":
			return arg(3), false
		}
		return arg(2), false
	case "CONSUMER":
		switch arg(1) {
		case "DURABLE", "MSG", "LEADER":
			return arg(3), false
		}
		return arg(2), false
	case "DIRECT":
		return arg(2), false
	}
	return "", false
}

// accountToken is the account's name as one subject token: the name
// itself when it is one (an account public key, most configured names),
// else "%" and a hash of it.
func accountToken(account string) string {
	if account != "" && !strings.ContainsAny(account, ".*> \t\r\n") && account[0] != '%' {
		return account
	}
	sum := sha256.Sum256([]byte(account))
	return "%" + hex.EncodeToString(sum[:16])
}
