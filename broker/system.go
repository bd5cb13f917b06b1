package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// The system responder answers the requests `nats server ping|list|info`
// send (natscli cli/server_*_command.go) with nats-server's JSON shapes
// (server/events.go):
//
//	$SYS.REQ.SERVER.PING              -> {"server":{..},"statsz":{..}}
//	$SYS.REQ.SERVER.PING.<NAME>       -> {"server":{..},"data":{..}}   every server
//	$SYS.REQ.SERVER.<server id>.<NAME> -> {"server":{..},"data":{..}}  this server
//
// <NAME> is an endpoint such as VARZ, CONNZ or STATSZ. A PING request body
// may hold nats-server's filter (server_name, cluster, host, exact_match):
// a server the filter excludes stays silent, as nats-server does.
//
// It listens through an internal connection: subscriptions in the broker's
// own index owned by a mux.Conn that has no socket, so requests reach it
// from any client (and, once routes carry its interest, from any broker in
// the cluster) and replies go out through mux.Publish like any message.
const (
	sysPing      = "$SYS.REQ.SERVER.PING"
	sysPingAny   = "$SYS.REQ.SERVER.PING.*"
	sysServerFmt = "$SYS.REQ.SERVER.%s.*"
)

// SystemHandler answers one endpoint. body is the request payload (may be
// empty); the result is marshalled as the response's "data" (or "statsz").
// It runs on the responder's goroutine and may block briefly.
type SystemHandler func(body []byte) (any, error)

// SystemOptions enable the system responder.
//
// User names the system user. With user authentication, make it a login
// with AuthOptions.System: other users are then denied $SYS.>, and only
// this user hears the responder's replies. Without user authentication
// (none, or one shared token) any client may send these requests.
type SystemOptions struct {
	User string
	// Account is the account the responder answers in: default the
	// configured system account (AuthOptions.SystemAccount), else $G.
	// In a system account its users alone can ask, by construction.
	Account string
	// ClusterName is reported in each response's server block; default
	// the broker's cluster name.
	ClusterName string
	// Endpoints answer <NAME> requests, keyed by upper-case name ("VARZ").
	// STATSZ, when absent, is answered with the broker's own counters;
	// $SYS.REQ.SERVER.PING is answered by STATSZ.
	Endpoints map[string]SystemHandler
	// StatszInterval is how often STATSZ is published to a system
	// account ($SYS.SERVER.<id>.STATSZ); 0 means 10 s.
	StatszInterval time.Duration
	// QueueLen bounds requests waiting for the responder; when it is full
	// further requests are dropped (the requester times out). Default 256.
	QueueLen int
}

// ServerInfo is the "server" block of every system response (nats-server
// events.go ServerInfo).
type ServerInfo struct {
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	ID        string    `json:"id"`
	Cluster   string    `json:"cluster,omitempty"`
	Version   string    `json:"ver"`
	JetStream bool      `json:"jetstream"`
	Flags     uint64    `json:"flags"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
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
	Name       string `json:"server_name,omitempty"`
	Cluster    string `json:"cluster,omitempty"`
	Host       string `json:"host,omitempty"`
	ExactMatch bool   `json:"exact_match,omitempty"`
}

// System is a running system responder. Close stops it.
type System struct {
	srv     *Server
	acc     *account // where it answers
	opts    SystemOptions
	log     *zap.Logger
	subs    []*mux.Sub
	reqs    chan sysRequest
	done    chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Uint64
	dropped atomic.Int64
	once    sync.Once
}

type sysRequest struct {
	subject, reply string
	body           []byte
}

// StartSystem subscribes the system responder's internal connection and
// starts the goroutine that answers it. The caller owns the result and
// must Close it (before or after the server's Close).
func (s *Server) StartSystem(opts SystemOptions) (*System, error) {
	if opts.Account == "" {
		if a := s.o().Auth; a != nil {
			opts.Account = a.SystemAccount
		}
	}
	if opts.User == "" && opts.Account == "" {
		return nil, errors.New("system: a user or a system account is required")
	}
	acc := s.gacc
	if opts.Account != "" {
		if acc = s.account(opts.Account); acc == nil {
			return nil, fmt.Errorf("system: no account %q", opts.Account)
		}
	}
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
	}
	for i, subj := range []string{sysPing, sysPingAny, fmt.Sprintf(sysServerFmt, s.id)} {
		sub := &mux.Sub{Subject: subj, SID: []byte{byte('1' + i)}, Owner: (*sysConn)(sys)}
		if err := acc.mux.Subscribe(sub); err != nil {
			sys.unsubscribe()
			return nil, err
		}
		// Like a client's: routes learn the interest, so requests sent to
		// any broker of the cluster reach this one.
		s.localInterest(acc, sub, +1)
		sys.subs = append(sys.subs, sub)
	}
	if opts.User != "" && acc == s.gacc {
		user := opts.User
		s.sysUser.Store(&user)
	}
	sys.wg.Add(1)
	go sys.run()
	sys.log.Info("system responder ready", zap.String("user", opts.User), zap.String("account", acc.name))
	return sys, nil
}

// Dropped is the number of requests refused because the queue was full.
func (sys *System) Dropped() int64 { return sys.dropped.Load() }

// Close unsubscribes and waits for the responder goroutine to exit.
func (sys *System) Close() {
	sys.once.Do(func() {
		sys.srv.sysUser.Store(nil)
		sys.unsubscribe()
		close(sys.done)
	})
	sys.wg.Wait()
}

func (sys *System) unsubscribe() {
	for _, sub := range sys.subs {
		if sys.acc.mux.Unsubscribe(sub) {
			sys.srv.localInterest(sys.acc, sub, -1)
		}
	}
}

func (sys *System) run() {
	defer sys.wg.Done()
	var b mux.Batch
	// In a system account, STATSZ is also published every StatszInterval
	// (nats-server's $SYS.SERVER.<id>.STATSZ), for its users to watch.
	var tick <-chan time.Time
	if sys.acc != sys.srv.gacc {
		every := sys.opts.StatszInterval
		if every <= 0 {
			every = DefaultStatszInterval
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-sys.done:
			return
		case r := <-sys.reqs:
			if resp := sys.answer(r); resp != nil {
				sys.publish(r.reply, resp, &b)
			}
		case <-tick:
			if resp := sys.answer(sysRequest{subject: sysPing}); resp != nil {
				sys.publish(fmt.Sprintf(sysStatszFmt, sys.srv.id), resp, &b)
			}
		}
	}
}

// DefaultStatszInterval is how often a system account hears STATSZ.
const DefaultStatszInterval = 10 * time.Second

const sysStatszFmt = "$SYS.SERVER.%s.STATSZ"

// publish sends body on subject in the responder's account.
func (sys *System) publish(subject string, body []byte, b *mux.Batch) {
	m := mux.Msg{Subject: []byte(subject), Payload: body, System: true, Account: sys.acc.name}
	sys.acc.mux.Publish((*sysConn)(sys), &m, b)
	b.Flush()
	sys.srv.stats.outMsgs.Add(b.Msgs)
	sys.srv.stats.outBytes.Add(b.Bytes)
	b.Msgs, b.Bytes = 0, 0
}

// answer builds the response to r, or nil when this server stays silent.
func (sys *System) answer(r sysRequest) []byte {
	rest, ok := strings.CutPrefix(r.subject, "$SYS.REQ.SERVER.")
	if !ok {
		return nil
	}
	var name string
	ping := false
	switch {
	case rest == "PING":
		name, ping = "STATSZ", true
	case strings.HasPrefix(rest, "PING."):
		name = rest[len("PING."):]
	case strings.HasPrefix(rest, sys.srv.id+"."):
		name = rest[len(sys.srv.id)+1:]
	default:
		return nil
	}
	info := sys.serverInfo()
	var data any
	var err error
	status := http.StatusInternalServerError
	if len(r.body) > 0 {
		var f eventFilter
		if jerr := json.Unmarshal(r.body, &f); jerr != nil {
			err, status = jerr, http.StatusBadRequest
		} else if sys.filtered(&f, info) {
			return nil
		}
	}
	if err == nil {
		h := sys.opts.Endpoints[name]
		switch {
		case h != nil:
			data, err = h(r.body)
		case name == "STATSZ":
			data = sys.srv.defaultStatsz()
		default:
			err, status = errors.New("unknown endpoint "+name), http.StatusNotFound
		}
	}
	var v any
	switch {
	case err != nil:
		v = &apiResponse{Server: info, Error: &APIError{Code: status, Description: err.Error()}}
	case ping:
		v = &statszResponse{Server: info, Stats: data}
	default:
		v = &apiResponse{Server: info, Data: data}
	}
	b, merr := json.Marshal(v)
	if merr != nil {
		sys.log.Warn("system response not encodable", zap.String("endpoint", name), zap.Error(merr))
		return nil
	}
	return b
}

func (sys *System) serverInfo() *ServerInfo {
	host := sys.srv.opts.Host
	return &ServerInfo{
		Name:    sys.srv.Name(),
		Host:    host,
		ID:      sys.srv.id,
		Cluster: sys.opts.ClusterName,
		Version: Version,
		Seq:     sys.seq.Add(1),
		Time:    time.Now().UTC(),
	}
}

// filtered reports whether f excludes this server (nats-server
// filterRequest).
func (sys *System) filtered(f *eventFilter, info *ServerInfo) bool {
	differs := func(want, have string) bool {
		if want == "" {
			return false
		}
		if f.ExactMatch {
			return want != have
		}
		return !strings.Contains(have, want)
	}
	return differs(f.Name, info.Name) || differs(f.Host, info.Host) || differs(f.Cluster, info.Cluster)
}

// defaultStatsz is STATSZ from the broker's own counters, used when no
// endpoint (the monitor) supplies a richer one.
func (s *Server) defaultStatsz() *Statsz {
	st := s.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &Statsz{
		Start:            s.start,
		Mem:              int64(ms.Sys),
		Cores:            runtime.NumCPU(),
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		ActiveAccounts:   1,
		NumSubs:          st.Subscriptions,
		Sent:             MsgBytes{Msgs: st.OutMsgs, Bytes: st.OutBytes},
		Received:         MsgBytes{Msgs: st.InMsgs, Bytes: st.InBytes},
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: st.StaleConnections,
		ActiveServers:    1,
		MaxProcs:         runtime.GOMAXPROCS(0),
	}
}

// seesSystemReplies reports whether c may receive what the system
// responder publishes. With user authentication only the system user may:
// its replies would otherwise show other users the system user's inbox
// (through a wildcard subscription), and so a subject to forge answers
// on. Without users (no auth, or one shared token) everyone may ask and
// hear. The check applies to wildcard subscriptions (see subFilter); a
// literal one must already know the inbox.
func (s *Server) seesSystemReplies(c *client) bool {
	sys := s.sysUser.Load()
	if sys == nil || !s.auth.Load().hasUsers() {
		return true
	}
	u := c.user.Load()
	return u != nil && *u == *sys
}

// sysConn is the responder's internal connection: the mux.Conn that owns
// its subscriptions. Deliver copies the request (the message's slices are
// only valid during Publish) and queues it without blocking the publisher.
type sysConn System

var _ mux.Conn = (*sysConn)(nil)

func (c *sysConn) Kind() mux.Kind   { return mux.Client }
func (c *sysConn) NoEcho() bool     { return true }
func (c *sysConn) Flush()           {}
func (c *sysConn) Expired(*mux.Sub) {}

func (c *sysConn) Deliver(_ *mux.Sub, m *mux.Msg) (needFlush, ok bool) {
	if len(m.Reply) == 0 {
		return false, false // nothing to answer to
	}
	r := sysRequest{subject: string(m.Subject), reply: string(m.Reply), body: append([]byte(nil), m.Payload...)}
	select {
	case c.reqs <- r:
		return false, true
	default:
		c.dropped.Add(1)
		return false, false
	}
}
