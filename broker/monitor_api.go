package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
)

// Health errors, as /healthz reports them.
var (
	// ErrStarting means Start has not yet succeeded.
	ErrStarting = errors.New("server is starting")
	// ErrShuttingDown means Close has begun.
	ErrShuttingDown = errors.New("server is shutting down")
)

// Health reports whether the server is accepting clients: nil once Start
// has succeeded and until Close begins, ErrStarting or ErrShuttingDown
// otherwise.
func (s *Server) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shutdown:
		return ErrShuttingDown
	case !s.started:
		return ErrStarting
	}
	return nil
}

// SubInfo describes one subscription in the index, for /subsz.
type SubInfo struct {
	Subject string
	Queue   string
	SID     string
	// CID is the owning client's id; 0 for the broker's internal
	// subscriptions (the system responder) and for routes.
	CID uint64
	// Msgs is the number of messages delivered to it so far.
	Msgs int64
	// Account is the account whose index holds it.
	Account string
}

// Subscriptions returns every client subscription, ordered by cid then sid.
// It reads the per-connection subscription maps, never the message path.
func (s *Server) Subscriptions() []SubInfo {
	s.mu.Lock()
	cs := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	var out []SubInfo
	for _, c := range cs {
		acc := c.acc.Load().name
		c.subsMu.Lock()
		for _, sub := range c.subs {
			out = append(out, subInfo(sub, acc))
		}
		c.subsMu.Unlock()
	}
	sortSubs(out)
	return out
}

// MatchSubscriptions returns the subscriptions the index matches for a
// literal subject: every plain subscription and every member of each queue
// group (one of which a message would reach).
// acc names the account ("" is $G).
func (s *Server) MatchSubscriptions(acc, subject string) ([]SubInfo, error) {
	if !pubsub.ValidLiteralSubject(subject) {
		return nil, fmt.Errorf("invalid test subject, must be valid publish subject: %s", subject)
	}
	if acc == "" {
		acc = GlobalAccount
	}
	a := s.account(acc)
	if a == nil {
		return nil, fmt.Errorf("account %q does not exist", acc)
	}
	var lookups pubsub.MatchCount
	r := a.mux.Index().MatchCounted([]byte(subject), &lookups)
	s.stats.matches.Add(int64(lookups.Matches)) // counted like a publish's lookup
	s.stats.hits.Add(int64(lookups.Hits))
	out := make([]SubInfo, 0, len(r.Plain))
	for _, sub := range r.Plain {
		out = append(out, subInfo(sub, acc))
	}
	for _, g := range r.Queues {
		for _, sub := range g.Members {
			out = append(out, subInfo(sub, acc))
		}
	}
	sortSubs(out)
	return out, nil
}

// IndexStats returns the subject indexes' counters, summed over the
// accounts, with the lookups the connections counted.
func (s *Server) IndexStats() pubsub.Stats {
	var t pubsub.Stats
	for _, a := range *s.accounts.Load() {
		st := a.mux.Index().Stats()
		t.Count += st.Count
		t.CacheEntries += st.CacheEntries
		t.Inserts += st.Inserts
		t.Removes += st.Removes
	}
	t.Matches, t.Hits = s.lookupTotals()
	return t
}

func subInfo(sub *mux.Sub, acc string) SubInfo {
	si := SubInfo{Subject: sub.Subject, Queue: sub.Queue, SID: string(sub.SID), Msgs: sub.Delivered(), Account: acc}
	if c, ok := sub.Owner.(*client); ok {
		si.CID = c.cid
	}
	return si
}

func sortSubs(subs []SubInfo) {
	sort.Slice(subs, func(i, j int) bool {
		if subs[i].CID != subs[j].CID {
			return subs[i].CID < subs[j].CID
		}
		return subs[i].SID < subs[j].SID
	})
}

// TransportStats are the totals of the open connections of one transport.
type TransportStats struct {
	Connections                        int
	InMsgs, InBytes, OutMsgs, OutBytes int64
}

// TransportStats sums the open connections' counters per transport name.
// It reads only atomics, never a lock a connection's message path takes.
// Every listening transport is present, with zeros when it has no client.
func (s *Server) TransportStats() map[string]TransportStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]TransportStats, len(s.listeners))
	for _, l := range s.listeners {
		m[l.transport] = TransportStats{}
	}
	for _, c := range s.clients {
		t := m[c.transport]
		t.Connections++
		t.InMsgs += c.inMsgs.Load()
		t.InBytes += c.inBytes.Load()
		t.OutMsgs += c.outMsgs.Load()
		t.OutBytes += c.outBytes.Load()
		m[c.transport] = t
	}
	return m
}

// AccountSubscriptions counts the subscriptions in account acc's index
// (local and remote interest); 0 for an unknown account.
func (s *Server) AccountSubscriptions(acc string) int {
	if a := s.account(acc); a != nil {
		return a.mux.Index().Count()
	}
	return 0
}

// CountMatches counts the subscriptions account acc's index
// matches for a literal subject (local, remote and import ones).
func (s *Server) CountMatches(acc, subject string) (int, error) {
	a := s.account(acc)
	if a == nil {
		return 0, fmt.Errorf("no account %q", acc)
	}
	r := a.mux.Match([]byte(subject))
	n := len(r.Plain)
	for _, g := range r.Queues {
		n += len(g.Members)
	}
	return n, nil
}
