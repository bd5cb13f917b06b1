package broker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// The system responder answers the requests `nats server ...` and
// `nats account ...` send (natscli) with nats-server's JSON shapes
// (server/events.go). It lives in the system account (AuthOptions
// SystemAccount, or the implicit $SYS): only that account's users reach
// it or hear its answers, so no other account can learn a system inbox
// or forge a reply.
//
//	$SYS.REQ.SERVER.PING                 -> {"server":{..},"statsz":{..}}
//	$SYS.REQ.SERVER.PING.<NAME>          -> {"server":{..},"data":{..}}  every server
//	$SYS.REQ.SERVER.<server id>.<NAME>   -> {"server":{..},"data":{..}}  this server
//	$SYS.REQ.ACCOUNT.<acc>.<NAME>        -> one account's CONNZ, SUBSZ, INFO, STATZ
//	$SYS.REQ.ACCOUNT.PING.STATZ          -> STATZ of every account
//
// <NAME> is an endpoint such as VARZ, CONNZ or STATSZ. A request body may
// hold nats-server's filter (server_name, cluster, host, exact_match): a
// server the filter excludes stays silent, as nats-server does.
//
// Every other account gets, as nats-server's system imports, the requests
// that describe only itself: $SYS.REQ.SERVER.PING.CONNZ and
// $SYS.REQ.ACCOUNT.PING.CONNZ (its connections) and
// $SYS.REQ.ACCOUNT.PING.STATZ (its STATZ), answered in that account.
//
// It listens through internal connections: subscriptions in the
// accounts' indexes owned by a mux.Conn that has no socket, so requests
// reach it from any client (and, as routes carry its interest, from any
// broker in the cluster) and replies go out through mux.Publish like any
// message.
const (
	sysPing        = "$SYS.REQ.SERVER.PING"
	sysPingAny     = "$SYS.REQ.SERVER.PING.*"
	sysServerFmt   = "$SYS.REQ.SERVER.%s.*"
	sysAccountAny  = "$SYS.REQ.ACCOUNT.*.*"
	sysAccountPing = "PING" // the <acc> token that means every account
)

// accountImports are the requests each non-system account may send, and
// the account endpoint each is answered by.
var accountImports = []struct{ subject, endpoint string }{
	{"$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"},
	{"$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"},
	{"$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ"},
}

// SystemHandler answers one server endpoint. body is the request payload
// (may be empty); the result is marshalled as the response's "data" (or
// "statsz"). It runs on the responder's goroutine and may block briefly.
type SystemHandler func(body []byte) (any, error)

// AccountHandler answers one account endpoint about account ("" with
// STATZ: every account). Return ErrSilent to send no answer (nats-server
// stays silent on STATZ of an account with no connections here).
type AccountHandler func(account string, body []byte) (any, error)

// ErrSilent, from a handler, means this server does not answer.
var ErrSilent = errors.New("system: no answer from this server")

// SystemOptions configure the system responder. It answers in the
// server's system account (AuthOptions.SystemAccount, or $SYS), where the
// server's events go too.
type SystemOptions struct {
	// ClusterName is reported in each response's server block; default
	// the broker's cluster name.
	ClusterName string
	// Endpoints answer <NAME> requests, keyed by upper-case name ("VARZ").
	// STATSZ, when absent, is answered with the broker's own counters;
	// $SYS.REQ.SERVER.PING is answered by STATSZ.
	Endpoints map[string]SystemHandler
	// AccountEndpoints answer $SYS.REQ.ACCOUNT.<acc>.<NAME> and the
	// per-account imports, keyed by name (CONNZ, SUBSZ, INFO, STATZ).
	AccountEndpoints map[string]AccountHandler
	// StatszInterval is how often STATSZ is published to the system
	// account ($SYS.SERVER.<id>.STATSZ); 0 means 10 s.
	StatszInterval time.Duration
	// QueueLen bounds requests waiting for the responder; when it is full
	// further requests are dropped (the requester times out). Default 256.
	QueueLen int
}

// ServerInfo is the "server" block of every system response (nats-server
// events.go ServerInfo).
type ServerInfo struct {
	Name      string            `json:"name"`
	Host      string            `json:"host"`
	ID        string            `json:"id"`
	Cluster   string            `json:"cluster,omitempty"`
	Version   string            `json:"ver"`
	JetStream bool              `json:"jetstream"`
	Tags      []string          `json:"tags,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Flags     uint64            `json:"flags"`
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
}

// APIError is the "error" of a failed system request.
type APIError struct {
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
}

type apiResponse struct {
	Server *ServerInfo `json:"server"`
	Data   any         `json:"data,omitempty"`
	Error  *APIError   `json:"error,omitempty"`
}

type statszResponse struct {
	Server *ServerInfo `json:"server"`
	Stats  any         `json:"statsz"`
}

// MsgBytes is a message and byte count (nats-server DataStats).
type MsgBytes struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
}

// Statsz is the STATSZ document (nats-server ServerStats) with the fields
// Murmur fills. `nats server list` reads connections, subscriptions, mem,
// cpu, slow_consumers and active_servers.
type Statsz struct {
	Start            time.Time `json:"start"`
	Mem              int64     `json:"mem"`
	Cores            int       `json:"cores"`
	CPU              float64   `json:"cpu"`
	Connections      int       `json:"connections"`
	TotalConnections int64     `json:"total_connections"`
	ActiveAccounts   int       `json:"active_accounts"`
	NumSubs          int       `json:"subscriptions"`
	Sent             MsgBytes  `json:"sent"`
	Received         MsgBytes  `json:"received"`
	SlowConsumers    int64     `json:"slow_consumers"`
	StaleConnections int64     `json:"stale_connections,omitempty"`
	ActiveServers    int       `json:"active_servers,omitempty"`
	MaxProcs         int       `json:"gomaxprocs,omitempty"`
}

// eventFilter is nats-server's EventFilterOptions.
type eventFilter struct {
	Name       string   `json:"server_name,omitempty"`
	Cluster    string   `json:"cluster,omitempty"`
	Host       string   `json:"host,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	ExactMatch bool     `json:"exact_match,omitempty"`
}

// System is a running system responder. Close stops it.
type System struct {
	srv     *Server
	acc     *account // where it answers
	opts    SystemOptions
	log     *zap.Logger
	reqs    chan sysRequest
	done    chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Uint64
	dropped atomic.Int64
	once    sync.Once

	// conns are the accounts whose client count changed, to report
	// (account_conns.go).
	conns dirtyAccounts

	mu     sync.Mutex
	closed bool
	subs   map[*account][]*mux.Sub // its subscriptions, per account
}

// sysRequest is one request, copied out of the publisher's message. in is
// the account it arrived in (and the answer goes to); for an account's
// own import, scope is that account and endpoint the one it maps to.
type sysRequest struct {
	in                   *account
	subject, reply, body string
	scope, endpoint      string
}

// StartSystem subscribes the system responder's internal connections and
// starts the goroutine that answers them. A server runs at most one. The
// caller owns the result and must Close it (before or after the server's
// Close).
func (s *Server) StartSystem(opts SystemOptions) (*System, error) {
	acc := s.sysacc
	if opts.QueueLen <= 0 {
		opts.QueueLen = 256
	}
	if opts.ClusterName == "" && s.opts.Cluster != nil {
		opts.ClusterName = s.opts.Cluster.Name
	}
	sys := &System{
		srv:  s,
		acc:  acc,
		opts: opts,
		log:  s.log.With(zap.String("component", "system")),
		reqs: make(chan sysRequest, opts.QueueLen),
		done: make(chan struct{}),
		subs: map[*account][]*mux.Sub{},

		conns: dirtyAccounts{wake: make(chan struct{}, 1)},
	}
	if !s.sys.CompareAndSwap(nil, sys) {
		return nil, errors.New("system: a system responder is already running")
	}
	own := append([]string{sysPing, sysPingAny, fmt.Sprintf(sysServerFmt, s.id), sysAccountAny, accConnsAny}, s.claimsSubjects()...)
	if err := sys.subscribe(acc, own, ""); err != nil {
		sys.Close()
		return nil, err
	}
	if err := sys.syncAccounts(); err != nil {
		sys.Close()
		return nil, err
	}
	sys.wg.Add(1)
	go sys.run()
	sys.log.Info("system responder ready", zap.String("account", acc.name))
	return sys, nil
}

// syncAccounts gives every account without them the per-account imports
// (at start, and after a reload added accounts).
func (sys *System) syncAccounts() error {
	for _, a := range sys.srv.accountList() {
		if err := sys.syncAccount(a); err != nil {
			return err
		}
	}
	return nil
}

// syncAccount gives a the per-account imports if it lacks them.
func (sys *System) syncAccount(a *account) error {
	if a == sys.acc {
		return nil
	}
	subjects := make([]string, len(accountImports))
	for i, im := range accountImports {
		subjects[i] = im.subject
	}
	return sys.subscribe(a, subjects, a.name)
}

// subscribe adds subjects in acc (once per account) owned by an internal
// connection that scopes requests to scope ("" for the responder's own).
func (sys *System) subscribe(acc *account, subjects []string, scope string) error {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	if sys.closed || sys.subs[acc] != nil {
		return nil
	}
	owner := &sysConn{sys: sys, acc: acc, scope: scope}
	var subs []*mux.Sub
	for i, subj := range subjects {
		sub := &mux.Sub{Subject: subj, SID: []byte(strconv.Itoa(i + 1)), Owner: owner}
		if err := acc.mux.Subscribe(sub); err != nil {
			sys.unsubscribe(acc, subs)
			return err
		}
		// Like a client's: routes learn the interest, so requests sent to
		// any broker of the cluster reach this one.
		sys.srv.localInterest(acc, sub, +1)
		subs = append(subs, sub)
	}
	sys.subs[acc] = subs
	return nil
}

func (sys *System) unsubscribe(acc *account, subs []*mux.Sub) {
	for _, sub := range subs {
		if acc.mux.Unsubscribe(sub) {
			sys.srv.localInterest(acc, sub, -1)
		}
	}
}

// Dropped is the number of requests refused because the queue was full.
func (sys *System) Dropped() int64 { return sys.dropped.Load() }

// Close unsubscribes and waits for the responder goroutine to exit.
func (sys *System) Close() {
	sys.once.Do(func() {
		sys.mu.Lock()
		sys.closed = true
		for acc, subs := range sys.subs {
			sys.unsubscribe(acc, subs)
		}
		sys.subs = nil
		sys.mu.Unlock()
		sys.srv.sys.CompareAndSwap(sys, nil)
		close(sys.done)
	})
	sys.wg.Wait()
}

func (sys *System) run() {
	defer sys.wg.Done()
	var b mux.Batch
	// STATSZ is also published every StatszInterval (nats-server's
	// $SYS.SERVER.<id>.STATSZ), for the system account's users to watch.
	every := sys.opts.StatszInterval
	if every <= 0 {
		every = DefaultStatszInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	// In operator mode, resolvers of the cluster are compared at start
	// and every sync interval (claims.go).
	var sync <-chan time.Time
	if a := sys.srv.o().Auth; a != nil && a.Operator != nil {
		si := a.Operator.SyncInterval
		if si <= 0 {
			si = DefaultSyncInterval
		}
		st := time.NewTicker(si)
		defer st.Stop()
		sync = st.C
		sys.askPack(&b)
	}
	for {
		select {
		case <-sys.done:
			return
		case r := <-sys.reqs:
			sys.traceSystem("->> [", "MSG", r.in.name, r.subject, r.reply, len(r.body))
			if isConnsEvent(r.subject) {
				sys.srv.remoteConnsEvent(r.subject, r.body)
				continue
			}
			pub := func(subject string, body []byte) { sys.publish(r.in, subject, body, &b) }
			if sys.claims(&r, pub) {
				continue
			}
			if resp := sys.answer(r); resp != nil {
				sys.publish(r.in, r.reply, resp, &b)
			}
		case <-sync:
			sys.askPack(&b)
		case <-sys.conns.wake:
			for _, acc := range sys.conns.take() {
				sys.reportConns(acc, &b)
			}
		case <-t.C:
			subject := fmt.Sprintf(sysStatszFmt, sys.srv.id)
			if !listened(sys.acc, subject) {
				continue
			}
			if resp := sys.answer(sysRequest{in: sys.acc, subject: sysPing}); resp != nil {
				sys.publish(sys.acc, subject, resp, &b)
			}
		}
	}
}

// DefaultStatszInterval is how often a system account hears STATSZ.
const DefaultStatszInterval = 10 * time.Second

const sysStatszFmt = "$SYS.SERVER.%s.STATSZ"

// publish sends body on subject in acc.
func (sys *System) publish(acc *account, subject string, body []byte, b *mux.Batch) {
	sys.traceSystem("<<- [", "PUB", acc.name, subject, "", len(body))
	m := mux.Msg{Subject: []byte(subject), Payload: body, Account: acc.name}
	acc.mux.Publish(nil, &m, b)
	b.Flush()
	sys.srv.stats.outMsgs.Add(b.Msgs)
	sys.srv.stats.outBytes.Add(b.Bytes)
	b.Msgs, b.Bytes = 0, 0
}

// sysConn is an internal connection of the responder: the mux.Conn that
// owns its subscriptions in one account. Deliver copies the request (the
// message's slices are only valid during Publish) and queues it without
// blocking the publisher.
type sysConn struct {
	sys   *System
	acc   *account
	scope string // "" for the system account's own subscriptions
}

var _ mux.Conn = (*sysConn)(nil)

func (c *sysConn) Kind() mux.Kind   { return mux.Client }
func (c *sysConn) NoEcho() bool     { return true }
func (c *sysConn) Flush()           {}
func (c *sysConn) Expired(*mux.Sub) {}

func (c *sysConn) Deliver(_ *mux.Sub, m *mux.Msg) (needFlush, ok bool) {
	if len(m.Reply) == 0 && (c.scope != "" || !oneWay(m.Subject)) {
		return false, false // nothing to answer to
	}
	r := sysRequest{in: c.acc, subject: string(m.Subject), reply: string(m.Reply), body: string(m.Payload)}
	if c.scope != "" {
		r.scope = c.scope
		for _, im := range accountImports {
			if im.subject == r.subject {
				r.endpoint = im.endpoint
			}
		}
	}
	select {
	case c.sys.reqs <- r:
		return false, true
	default:
		c.sys.dropped.Add(1)
		return false, false
	}
}

// oneWay reports whether subject is a system message acted on without a
// reply: a claims update event, or a claims sync answer.
func oneWay(subject []byte) bool {
	s := string(subject)
	return strings.HasPrefix(s, "$SYS._MURMUR.CLAIMS.PACK.") || isConnsEvent(s) ||
		strings.HasPrefix(s, "$SYS.ACCOUNT.") && strings.HasSuffix(s, ".CLAIMS.UPDATE") ||
		s == claimsUpdate || strings.HasPrefix(s, "$SYS.REQ.ACCOUNT.") && strings.HasSuffix(s, ".CLAIMS.UPDATE")
}
