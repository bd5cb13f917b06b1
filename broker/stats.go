package broker

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// ConnInfo is a snapshot of one client connection, for monitoring.
type ConnInfo struct {
	CID          uint64
	Transport    string
	RemoteAddr   string
	Start        time.Time
	LastActivity time.Time
	Stop         time.Time // zero while open
	Reason       string    // close reason, empty while open
	PendingBytes int
	// RTT is the last measured PING round trip (0 until known).
	RTT      time.Duration
	InMsgs   int64
	OutMsgs  int64
	InBytes  int64
	OutBytes int64
	NumSubs  int
	Subs     []string
	Name     string
	Lang     string
	Version  string
	// Account is the connection's account; User the user it logged in as
	// (empty without user authentication).
	Account string
	User    string
}

// ClosedConn is a ConnInfo of a connection that has closed.
type ClosedConn = ConnInfo

// snapshot copies c's state; subject lists only when withSubs.
func (c *client) snapshot(withSubs bool) ConnInfo {
	ci := c.conn.snapshot()
	c.mu.Lock()
	ci.Name, ci.Lang, ci.Version = c.opts.Name, c.opts.Lang, c.opts.Version
	c.mu.Unlock()
	ci.Account = c.acc.Load().name
	if u := c.user.Load(); u != nil {
		ci.User = *u
	}
	c.subsMu.Lock()
	ci.NumSubs = len(c.subs)
	if withSubs {
		for _, s := range c.subs {
			ci.Subs = append(ci.Subs, s.Subject)
		}
	}
	c.subsMu.Unlock()
	sort.Strings(ci.Subs)
	return ci
}

// Connections returns snapshots of the open connections, ordered by cid.
func (s *Server) Connections(withSubs bool) []ConnInfo {
	s.mu.Lock()
	cs := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	out := make([]ConnInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.snapshot(withSubs))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CID < out[j].CID })
	return out
}

// ClosedConnections returns the most recent closed connections (up to
// Options.MaxClosedClients, 10,000 by default), oldest first.
func (s *Server) ClosedConnections() []ClosedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ClosedConn, 0, len(s.closed))
	out = append(out, s.closed[s.closedNext:]...)
	return append(out, s.closed[:s.closedNext]...)
}

// Stats are the server's running totals.
type Stats struct {
	// InMsgs and the rest count every connection (clients and routes) and
	// the system responder; the Client totals only client connections.
	InMsgs, InBytes, OutMsgs, OutBytes                         int64
	ClientInMsgs, ClientInBytes, ClientOutMsgs, ClientOutBytes int64
	TotalConnections                                           int64
	// SlowConsumers and StaleConnections count both kinds; the Route
	// counts are the routes among them.
	SlowConsumers, StaleConnections int64
	SlowRoutes, StaleRoutes         int64
	SlowLeafs, StaleLeafs           int64 // leaf node connections among them
	// Stalls counts the times a producer was held back because a
	// receiver's output was far behind (back-pressure, conn_out.go).
	Stalls int64
	// InterestBarrierTimeouts counts client PONGs sent before every route
	// had answered the interest barrier (barrier.go).
	InterestBarrierTimeouts    int64
	Connections, Subscriptions int
}

// Stats returns a snapshot of the totals. The message counters are kept
// per connection (no counter shared by every reader on the hot path) and
// summed here with those of closed connections and the system responder.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	t := msgTotals{
		inMsgs: s.stats.inMsgs.Load(), inBytes: s.stats.inBytes.Load(),
		outMsgs: s.stats.outMsgs.Load(), outBytes: s.stats.outBytes.Load(),
	}
	// The client totals count what clients sent and what was queued to
	// them (the server totals count deliveries on the producer's side).
	ct := msgTotals{
		inMsgs: s.stats.clientInMsgs.Load(), inBytes: s.stats.clientInBytes.Load(),
		outMsgs: s.stats.clientOutMsgs.Load(), outBytes: s.stats.clientOutBytes.Load(),
	}
	for _, c := range s.clients {
		t.add(&c.conn)
		ct.addClient(&c.conn)
	}
	for _, r := range s.routes {
		t.add(&r.conn)
	}
	for _, l := range s.leafs.conns {
		t.add(&l.conn)
	}
	conns := len(s.clients)
	s.mu.Unlock()
	return Stats{
		InMsgs:                  t.inMsgs,
		InBytes:                 t.inBytes,
		OutMsgs:                 t.outMsgs,
		OutBytes:                t.outBytes,
		ClientInMsgs:            ct.inMsgs,
		ClientInBytes:           ct.inBytes,
		ClientOutMsgs:           ct.outMsgs,
		ClientOutBytes:          ct.outBytes,
		TotalConnections:        s.stats.totalConns.Load(),
		SlowConsumers:           s.stats.slowConsumers.Load(),
		StaleConnections:        s.stats.stale.Load(),
		SlowRoutes:              s.stats.slowRoutes.Load(),
		StaleRoutes:             s.stats.staleRoutes.Load(),
		SlowLeafs:               s.stats.slowLeafs.Load(),
		StaleLeafs:              s.stats.staleLeafs.Load(),
		Stalls:                  s.stats.stalls.Load(),
		InterestBarrierTimeouts: s.stats.barrierTimeouts.Load(),
		Connections:             conns,
		Subscriptions:           s.numSubs(),
	}
}

// numSubs counts the subscriptions of every account's index.
func (s *Server) numSubs() int {
	n := 0
	for _, a := range *s.accounts.Load() {
		n += a.mux.Index().Count()
	}
	return n
}

// msgTotals sums message and lookup counters.
type msgTotals struct{ inMsgs, inBytes, outMsgs, outBytes, matches, hits int64 }

func (t *msgTotals) add(c *conn) {
	t.inMsgs += c.inMsgs.Load()
	t.inBytes += c.inBytes.Load()
	t.outMsgs += c.fanMsgs.Load()
	t.outBytes += c.fanBytes.Load()
	t.matches += c.matches.Load()
	t.hits += c.hits.Load()
}

// addClient adds what client connection c sent and was sent.
func (t *msgTotals) addClient(c *conn) {
	t.inMsgs += c.inMsgs.Load()
	t.inBytes += c.inBytes.Load()
	t.outMsgs += c.outMsgs.Load()
	t.outBytes += c.outBytes.Load()
}

// lookupTotals sums the index lookups of live and closed connections.
func (s *Server) lookupTotals() (matches, hits uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := msgTotals{matches: s.stats.matches.Load(), hits: s.stats.hits.Load()}
	for _, c := range s.clients {
		t.add(&c.conn)
	}
	for _, r := range s.routes {
		t.add(&r.conn)
	}
	return uint64(t.matches), uint64(t.hits)
}

// retireLocked keeps a closing connection's counts in the server totals
// once it leaves the live set (its reader has stopped, so they are final).
// Caller holds s.mu, and removes c from the live set in the same hold.
func (s *Server) retireLocked(c *conn) {
	var t msgTotals
	t.add(c)
	s.stats.inMsgs.Add(t.inMsgs)
	s.stats.inBytes.Add(t.inBytes)
	s.stats.outMsgs.Add(t.outMsgs)
	s.stats.outBytes.Add(t.outBytes)
	s.stats.matches.Add(t.matches)
	s.stats.hits.Add(t.hits)
	if _, ok := c.proto.(*client); ok {
		var ct msgTotals
		ct.addClient(c)
		s.stats.clientInMsgs.Add(ct.inMsgs)
		s.stats.clientInBytes.Add(ct.inBytes)
		s.stats.clientOutMsgs.Add(ct.outMsgs)
		s.stats.clientOutBytes.Add(ct.outBytes)
	}
}

// AuthFailures counts clients refused for bad or missing credentials.
func (s *Server) AuthFailures() int64 { return s.stats.authFailures.Load() }

// TLSFailures counts failed client TLS handshakes.
func (s *Server) TLSFailures() int64 { return s.stats.tlsFailures.Load() }
