package broker

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/transform"
)

// GlobalAccount is the account of users outside any account, and of every
// client when there is no authentication (nats-server's $G).
const GlobalAccount = "$G"

// account is one subject space: its own multiplexor (subscription index),
// so the same subject in two accounts never meets. A connection holds its
// account from CONNECT on, so the message path never looks it up. Account
// values live as long as the server: a reload that drops an account
// closes its clients, and routes may still name it meanwhile.
type account struct {
	name   string
	mux    *mux.Mux
	totals accountTotals
	// active counts the clients CONNECT admitted into it that are open.
	active atomic.Int64
	// maxConns bounds active (-1: no bound); set by its account JWT.
	maxConns atomic.Int64
	// claims is its account JWT in operator mode (nil otherwise).
	claims atomic.Pointer[jwt.AccountClaims]
	// mappings are its subject mappings (nil: none), from the
	// configuration or its account JWT (mappings.go).
	mappings atomic.Pointer[transform.Table]
	// mappingsMu orders the writers of mappings (a reload, its claims).
	mappingsMu sync.Mutex
	// remote are the other brokers' counts of its clients, for maxConns
	// across the cluster (account_conns.go).
	remote remoteConns
	// expiry closes its clients when its account JWT expires (nil: none).
	expiryMu sync.Mutex
	expiry   *time.Timer
	// subjects samples its clients' publish subjects (subjects.go); nil
	// until the first sample.
	subjects atomic.Pointer[subjectSampler]
}

// accountTotals are an account's running totals of its client
// connections, kept off the message path: they change when a client
// enters or leaves the account (CONNECT, close) and when one is found a
// slow consumer, never per message. What its open clients count meanwhile
// is summed on read (Server.Accounts). Routes are in no account's totals.
type accountTotals struct {
	// What its clients counted while in it, up to when they left it (by
	// closing, or by moving to another account at a later CONNECT).
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	// conns counts clients admitted into it by CONNECT; slowConsumers
	// its clients closed as slow consumers.
	conns, slowConsumers atomic.Int64
}

// clientCounts are a client's message counters at one moment: what it
// sent (in) and what was queued to it (out).
type clientCounts struct{ inMsgs, inBytes, outMsgs, outBytes int64 }

func (c *client) counts() clientCounts {
	return clientCounts{c.inMsgs.Load(), c.inBytes.Load(), c.outMsgs.Load(), c.outBytes.Load()}
}

// since is what c counted after base was taken.
func (n clientCounts) since(base clientCounts) clientCounts {
	return clientCounts{n.inMsgs - base.inMsgs, n.inBytes - base.inBytes, n.outMsgs - base.outMsgs, n.outBytes - base.outBytes}
}

func (t *accountTotals) add(n clientCounts) {
	t.inMsgs.Add(n.inMsgs)
	t.inBytes.Add(n.inBytes)
	t.outMsgs.Add(n.outMsgs)
	t.outBytes.Add(n.outBytes)
}

// joinAccount admits c into acc at CONNECT, on c's reader, and counts the
// connection there. A client is in $G from its accept on; one that a
// later CONNECT moves to another account leaves what it counted so far
// with the old one.
//
// It reports false, admitting nothing, when acc is at its connection
// limit (its JWT's conn).
func (s *Server) joinAccount(c *client, acc *account) bool {
	old := c.acc.Load() // written only here and at accept: no race with itself
	if c.admitted && old == acc {
		return true
	}
	for {
		n, max := acc.active.Load(), acc.maxConns.Load()
		if max >= 0 && n+acc.remote.total() >= max {
			return false
		}
		if acc.active.CompareAndSwap(n, n+1) {
			break
		}
	}
	if c.admitted {
		old.active.Add(-1)
		s.accountConnsChanged(old)
	}
	c.admitted = true
	acc.totals.conns.Add(1)
	s.accountConnsChanged(acc)
	if old == acc {
		return true
	}
	c.flushStats() // what this read counted before the move is the old account's
	s.mu.Lock()
	now := c.counts()
	old.totals.add(now.since(c.accBase))
	c.accBase = now
	c.acc.Store(acc)
	s.mu.Unlock()
	return true
}

// leaveAccountLocked folds a closing client's counts into its account's
// totals, as retireLocked does for the server's. Caller holds s.mu and
// removes c from the live set in the same hold.
func (s *Server) leaveAccountLocked(c *client) {
	acc := c.acc.Load()
	acc.totals.add(c.counts().since(c.accBase))
	if c.admitted {
		acc.active.Add(-1)
		s.accountConnsChanged(acc)
	}
}

func newAccount(name string) *account {
	a := &account{name: name, mux: mux.New()}
	a.maxConns.Store(-1)
	return a
}

// accountSet is the server's accounts by name. It is replaced, never
// changed, so readers (a route's reader per message) load it without a
// lock; writers hold Server.mu.
type accountSet map[string]*account

// account returns the named account, or nil.
func (s *Server) account(name string) *account { return (*s.accounts.Load())[name] }

// addAccountsLocked makes sure an account exists for every name. Caller
// holds s.mu.
func (s *Server) addAccountsLocked(names []string) {
	cur := *s.accounts.Load()
	var next accountSet
	for _, n := range names {
		if cur[n] != nil || next[n] != nil {
			continue
		}
		if next == nil {
			next = maps.Clone(cur)
		}
		next[n] = newAccount(n)
	}
	if next != nil {
		s.accounts.Store(&next)
	}
}

// accountList is every account, ordered by name.
func (s *Server) accountList() []*account {
	set := *s.accounts.Load()
	return slices.SortedFunc(maps.Values(set), func(a, b *account) int { return strings.Compare(a.name, b.name) })
}

// AccountInfo describes one account, for /accountz, /accstatz and
// /metrics.
type AccountInfo struct {
	Name          string
	Connections   int // open client connections in it now
	Subscriptions int // in its index: local, remote and import ones
	// The message counters of its client connections, open and closed,
	// since the server started: what they sent (In) and what was queued
	// to them (Out). They only grow. Route traffic is not in them.
	InMsgs, InBytes, OutMsgs, OutBytes int64
	// TotalConnections counts the clients CONNECT admitted into it since
	// the server started; SlowConsumers those closed as slow consumers.
	TotalConnections, SlowConsumers int64
	Exports                         []Export
	Imports                         []Import
	// RemoteConnections are its clients on the other brokers of the
	// cluster, as they last reported them (conn-limited accounts only).
	RemoteConnections int64
	// RemoteLeafNodes are its leaf connections on the other brokers, as
	// they last reported them (leaf_limits.go; limited accounts only).
	RemoteLeafNodes int64
	// System marks the system account.
	System bool
	// Claims is its account JWT in operator mode (nil otherwise), with
	// the limits it sets; JWT is that JWT as received.
	Claims *jwt.AccountClaims
}

// Accounts describes every account, ordered by name, with its exports
// and imports as configured.
func (s *Server) Accounts() []AccountInfo {
	conf := map[string]Account{}
	if a := s.o().Auth; a != nil {
		for _, acc := range a.Accounts {
			conf[acc.Name] = acc
		}
	}
	accs := s.accountList()
	out := make([]AccountInfo, len(accs))
	at := make(map[*account]*AccountInfo, len(accs))
	// Under s.mu a client's counts are either live or in its account's
	// totals (retired, or moved), never both or neither.
	s.mu.Lock()
	for i, a := range accs {
		t := &a.totals
		out[i] = AccountInfo{
			Name:   a.name,
			InMsgs: t.inMsgs.Load(), InBytes: t.inBytes.Load(),
			OutMsgs: t.outMsgs.Load(), OutBytes: t.outBytes.Load(),
			TotalConnections: t.conns.Load(),
			SlowConsumers:    t.slowConsumers.Load(),
		}
		at[a] = &out[i]
	}
	for _, c := range s.clients {
		ai := at[c.acc.Load()]
		if ai == nil {
			continue // an account added since accountList; counted next time
		}
		n := c.counts().since(c.accBase)
		ai.Connections++
		ai.InMsgs += n.inMsgs
		ai.InBytes += n.inBytes
		ai.OutMsgs += n.outMsgs
		ai.OutBytes += n.outBytes
	}
	s.mu.Unlock()
	for i, a := range accs {
		out[i].Subscriptions = a.mux.Index().Count()
		out[i].Exports, out[i].Imports = conf[a.name].Exports, conf[a.name].Imports
		out[i].System = a == s.sysacc
		out[i].RemoteConnections = a.remote.total()
		out[i].RemoteLeafNodes = a.remote.leafTotal()
		if ac := a.claims.Load(); ac != nil {
			// What the JWT declares (an import its exporter does not
			// allow is declared but not installed).
			out[i].Claims, out[i].Exports, out[i].Imports = ac, nil, nil
			for _, e := range ac.Exports {
				if e != nil {
					out[i].Exports = append(out[i].Exports, jwtExport(e))
				}
			}
			for _, im := range ac.Imports {
				if im != nil {
					out[i].Imports = append(out[i].Imports, brokerImport(im))
				}
			}
		}
	}
	return out
}
