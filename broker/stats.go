package broker

import (
	"maps"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"
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
}

// ClosedConn is a ConnInfo of a connection that has closed.
type ClosedConn = ConnInfo

// snapshot copies c's state; subject lists only when withSubs.
func (c *client) snapshot(withSubs bool) ConnInfo {
	c.mu.Lock()
	ci := ConnInfo{
		CID:          c.cid,
		Transport:    c.transport,
		RemoteAddr:   c.remote.String(),
		Start:        c.start,
		PendingBytes: c.out.pending(),
		Name:         c.opts.Name,
		Lang:         c.opts.Lang,
		Version:      c.opts.Version,
	}
	if c.out.closing {
		ci.Reason = c.out.reason.String()
		ci.Stop = time.Now()
	}
	c.mu.Unlock()
	ci.LastActivity = time.Unix(0, c.lastIn.Load())
	ci.RTT = time.Duration(c.rtt.Load())
	ci.InMsgs, ci.InBytes = c.inMsgs.Load(), c.inBytes.Load()
	ci.OutMsgs, ci.OutBytes = c.outMsgs.Load(), c.outBytes.Load()
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
// 10,000), oldest first.
func (s *Server) ClosedConnections() []ClosedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ClosedConn, 0, len(s.closed))
	out = append(out, s.closed[s.closedNext:]...)
	return append(out, s.closed[:s.closedNext]...)
}

// Stats are the server's running totals.
type Stats struct {
	InMsgs, InBytes, OutMsgs, OutBytes int64
	TotalConnections                   int64
	SlowConsumers, StaleConnections    int64
	Connections, Subscriptions         int
}

// Stats returns a snapshot of the totals.
func (s *Server) Stats() Stats {
	return Stats{
		InMsgs:           s.stats.inMsgs.Load(),
		InBytes:          s.stats.inBytes.Load(),
		OutMsgs:          s.stats.outMsgs.Load(),
		OutBytes:         s.stats.outBytes.Load(),
		TotalConnections: s.stats.totalConns.Load(),
		SlowConsumers:    s.stats.slowConsumers.Load(),
		StaleConnections: s.stats.stale.Load(),
		Connections:      s.NumClients(),
		Subscriptions:    s.mux.Index().Count(),
	}
}

// AuthFailures counts clients refused for bad or missing credentials.
func (s *Server) AuthFailures() int64 { return s.stats.authFailures.Load() }

// TLSFailures counts failed client TLS handshakes.
func (s *Server) TLSFailures() int64 { return s.stats.tlsFailures.Load() }

// traceOp logs one inbound op at debug level when tracing (-V) is on.
func (s *Server) traceOp(c *client, op string, arg []byte) {
	if s.o().Trace {
		c.log.Debug("<<- "+op, zap.ByteString("arg", arg))
	}
}
