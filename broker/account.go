package broker

import (
	"maps"
	"slices"
	"strings"

	"github.com/murmurmq/murmur/mux"
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
	name string
	mux  *mux.Mux
}

func newAccount(name string) *account { return &account{name: name, mux: mux.New()} }

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

// AccountInfo describes one account, for /accountz and /metrics.
type AccountInfo struct {
	Name          string
	Connections   int
	Subscriptions int // in its index: local, remote and import ones
	// The message counters of its open connections: what they sent
	// (In) and what was queued to them (Out).
	InMsgs, InBytes, OutMsgs, OutBytes int64
	Exports                            []Export
	Imports                            []Import
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
	live := map[string]*AccountInfo{}
	s.mu.Lock()
	for _, c := range s.clients {
		name := c.acc.Load().name
		t := live[name]
		if t == nil {
			t = &AccountInfo{}
			live[name] = t
		}
		t.Connections++
		t.InMsgs += c.inMsgs.Load()
		t.InBytes += c.inBytes.Load()
		t.OutMsgs += c.outMsgs.Load()
		t.OutBytes += c.outBytes.Load()
	}
	s.mu.Unlock()
	var out []AccountInfo
	for _, a := range s.accountList() {
		ai := AccountInfo{}
		if t := live[a.name]; t != nil {
			ai = *t
		}
		ai.Name, ai.Subscriptions = a.name, a.mux.Index().Count()
		ai.Exports, ai.Imports = conf[a.name].Exports, conf[a.name].Imports
		out = append(out, ai)
	}
	return out
}
