package broker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
)

// An account's conn limit (its JWT's conn) holds across a cluster, as
// nats-server's: when the number of its clients on a broker changes, the
// broker publishes $SYS.ACCOUNT.<acc>.SERVER.CONNS in the system account
// (nats-server's AccountNumConns JSON: server, acc, conns, ...); every
// broker keeps the others' counts and admits a client only while the
// cluster-wide total is under the limit. A broker whose count pushes the
// total over closes its newest clients of the account beyond the limit
// with -ERR 'maximum account active connections exceeded'. A broker's
// counts are forgotten when its route goes down. Only accounts with a
// limit are reported.
const (
	accConnsFmt  = "$SYS.ACCOUNT.%s.SERVER.CONNS"
	accConnsAny  = "$SYS.ACCOUNT.*.SERVER.CONNS"
	accConnsType = "io.nats.server.advisory.v1.account_connections"
)

// AccountNumConns is nats-server's account connections event.
type AccountNumConns struct {
	Type      string     `json:"type"`
	ID        string     `json:"id"`
	Time      time.Time  `json:"timestamp"`
	Server    ServerInfo `json:"server"`
	Account   string     `json:"acc"`
	Name      string     `json:"name"`
	Conns     int        `json:"conns"`
	LeafNodes int        `json:"leafnodes"`
	Total     int        `json:"total_conns"`
}

// remoteConns are the other brokers' client (and leaf node) counts of
// one account.
type remoteConns struct {
	mu    sync.Mutex
	per   map[string]int // server id -> its clients of the account
	leafs map[string]int // server id -> its leaf connections in it (leaf_limits.go)
}

func (r *remoteConns) total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sumCounts(r.per)
}

// sumCounts adds up per-broker counts.
func sumCounts(per map[string]int) int64 {
	n := 0
	for _, v := range per {
		n += v
	}
	return int64(n)
}

func (r *remoteConns) set(server string, n, leafs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.per == nil {
		r.per, r.leafs = map[string]int{}, map[string]int{}
	}
	if leafs == 0 {
		delete(r.leafs, server)
	} else {
		r.leafs[server] = leafs
	}
	if n == 0 {
		delete(r.per, server)
		return
	}
	r.per[server] = n
}

// accountConnsChanged tells the responder to report acc's count (it may
// be called with Server.mu held: it only marks acc and wakes it).
func (s *Server) accountConnsChanged(acc *account) {
	if acc.maxConns.Load() < 0 && s.leafLimit(acc) < 0 {
		return
	}
	if sys := s.sys.Load(); sys != nil {
		sys.conns.mark(acc)
	}
}

// dirtyAccounts is the set of accounts whose count is to be reported:
// however many changes come while the responder is busy, each account is
// reported once, with its count when the report is made, and none is
// lost.
type dirtyAccounts struct {
	mu   sync.Mutex
	set  map[*account]struct{}
	wake chan struct{} // capacity 1: a report is due
}

func (d *dirtyAccounts) mark(acc *account) {
	d.mu.Lock()
	if d.set == nil {
		d.set = map[*account]struct{}{}
	}
	d.set[acc] = struct{}{}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default: // already due
	}
}

// take empties the set and returns what it held.
func (d *dirtyAccounts) take() []*account {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*account, 0, len(d.set))
	for acc := range d.set {
		out = append(out, acc)
	}
	clear(d.set)
	return out
}

// reportConns publishes acc's client count on this broker.
func (sys *System) reportConns(acc *account, b *mux.Batch) {
	ev := AccountNumConns{Type: accConnsType, Account: acc.name, Name: acc.name, Conns: int(acc.active.Load()),
		LeafNodes: sys.srv.numLeafsOf(acc)}
	ev.Total = ev.Conns + ev.LeafNodes
	ev.Time = time.Now().UTC()
	ev.Server = *sys.serverInfo()
	body, err := json.Marshal(&ev)
	if err != nil {
		return
	}
	sys.publish(sys.acc, fmt.Sprintf(accConnsFmt, acc.name), body, b)
}

// remoteConnsEvent takes another broker's count of an account (the one
// subject names) and closes this broker's newest clients of it beyond the
// limit.
func (s *Server) remoteConnsEvent(subject, body string) {
	var ev AccountNumConns
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.Server.ID == "" || ev.Server.ID == s.id ||
		subject != fmt.Sprintf(accConnsFmt, ev.Account) {
		return
	}
	acc := s.account(ev.Account)
	if acc == nil {
		// Not in use here yet: keep the count for when it is, for an
		// account the resolver knows (not any key a message names).
		op := s.auth.Load().operator()
		if op == nil || !nkeys.IsValidPublicAccountKey(ev.Account) {
			return
		}
		if _, err := op.account(ev.Account); err != nil {
			return
		}
		acc = s.ensureAccount(ev.Account)
	}
	acc.remote.set(ev.Server.ID, ev.Conns, ev.LeafNodes)
	s.leafsOverLimit(acc)
	max := acc.maxConns.Load()
	if max < 0 {
		return
	}
	over := acc.active.Load() + acc.remote.total() - max
	if over <= 0 {
		return
	}
	var clients []*client
	s.mu.Lock()
	for _, c := range s.clients {
		if c.acc.Load() == acc && c.authed.Load() {
			clients = append(clients, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(clients, func(a, b *client) int { return cmp.Compare(b.cid, a.cid) }) // newest first
	for _, c := range clients[:min(int(over), len(clients))] {
		c.log.Info("account conn limit reached across the cluster, closing", zap.String("account", acc.name), zap.Int64("limit", max))
		c.sendErr(proto.ErrTextMaxAccountConns)
		c.close(MaxAccountConnectionsExceeded)
	}
}

// forgetServerConns drops a broker's counts (its route went down).
func (s *Server) forgetServerConns(id string) {
	for _, acc := range s.accountList() {
		acc.remote.set(id, 0, 0)
	}
}

// isConnsEvent reports whether subject is an account connections event.
func isConnsEvent(subject string) bool {
	return strings.HasPrefix(subject, "$SYS.ACCOUNT.") && strings.HasSuffix(subject, ".SERVER.CONNS")
}
