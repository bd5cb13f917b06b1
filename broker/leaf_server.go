package broker

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/transport"
	"github.com/murmurmq/murmur/transport/tcp"
)

// leafState is the server's leaf node part (nil interest: leaf nodes off).
type leafState struct {
	interest *leafInterest
	auth     *authState // the leafnodes authorization (nil: the clients')
	ln       transport.Listener
	quicLn   transport.Listener // LeafNodeOptions.QUIC (nil: none)
	conns    map[uint64]*leaf   // guarded by Server.mu
	remotes  []*leafRemote
	cancel   context.CancelFunc // ends the remotes' dial loops
}

// initLeafNodes prepares the leaf node state in New, before anything
// subscribes, so the interest counts see every subscription.
func (s *Server) initLeafNodes() {
	o := s.opts.LeafNode
	if o == nil {
		return
	}
	s.leafs.interest = newLeafInterest()
	s.leafs.auth = compileLeafAuth(o)
	s.leafs.conns = map[uint64]*leaf{}
}

// startLeafNodes opens the leaf node listener and starts a dial loop per
// remote. Called by Start with s.mu held.
func (s *Server) startLeafNodes() error {
	o := s.opts.LeafNode
	if o == nil {
		return nil
	}
	for i, ro := range o.Remotes {
		name := ro.Account
		if name == "" {
			name = GlobalAccount
		}
		acc := s.account(name)
		if acc == nil {
			return fmt.Errorf("leafnodes.remotes[%d]: account %q does not exist", i, name)
		}
		r := &leafRemote{opts: ro, acc: acc}
		for _, raw := range ro.URLs {
			u, _ := remoteLeafAddr(raw) // validated
			r.urls = append(r.urls, u)
		}
		s.leafs.remotes = append(s.leafs.remotes, r)
	}
	if o.Addr != "" {
		ln, err := tcp.New().Listen(o.Addr)
		if err != nil {
			return fmt.Errorf("listen for leaf nodes on %s: %w", o.Addr, err)
		}
		s.leafs.ln = ln
		s.log.Info("listening for leaf nodes", zap.Stringer("addr", ln.Addr()))
		s.wg.Add(1)
		go s.leafAcceptLoop(ln, true)
	}
	if q := o.QUIC; q != nil {
		ln, err := q.Transport.Listen(q.Addr)
		if err != nil {
			if s.leafs.ln != nil {
				s.leafs.ln.Close()
			}
			return fmt.Errorf("listen for leaf nodes on %s %s: %w", q.Transport.Name(), q.Addr, err)
		}
		s.leafs.quicLn = ln
		fields := []zap.Field{zap.String("transport", q.Transport.Name()), zap.Stringer("addr", ln.Addr())}
		if fp, ok := q.Transport.(interface{ Fingerprint() string }); ok {
			fields = append(fields, zap.String("fingerprint", fp.Fingerprint())) // for leaves to pin
		}
		s.log.Info("listening for leaf nodes", fields...)
		s.wg.Add(1)
		go s.leafAcceptLoop(ln, false)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.leafs.cancel = cancel
	for _, r := range s.leafs.remotes {
		s.wg.Add(1)
		go s.runRemote(ctx, r)
	}
	return nil
}

// stopLeafNodesLocked ends the dial loops and the listener and returns
// the live leaf connections for Close to close. Caller holds s.mu, with
// shutdown set.
func (s *Server) stopLeafNodesLocked() []*conn {
	if s.leafs.cancel != nil {
		s.leafs.cancel()
	}
	if s.leafs.ln != nil {
		s.leafs.ln.Close()
	}
	if s.leafs.quicLn != nil {
		s.leafs.quicLn.Close()
	}
	var out []*conn
	for _, l := range s.leafs.conns {
		out = append(out, &l.conn)
	}
	return out
}

// leafAcceptLoop accepts leaf connections; each handshake runs on its own
// goroutine.
func (s *Server) leafAcceptLoop(ln transport.Listener, plain bool) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return
			}
			s.log.Warn("leaf node accept error", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go s.acceptLeaf(nc, plain)
	}
}

// startLeaf registers a handshaken leaf connection, sends it the interest
// it should see and starts its goroutines. It fails (and closes the
// socket) when the server is shutting down, or the connection would pass
// its account's leaf node limit (leaf_limits.go).
func (s *Server) startLeaf(l *leaf) error {
	l.done = make(chan struct{})
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		l.nc.Close()
		return ErrShuttingDown
	}
	if !s.leafAdmitLocked(l.acc) {
		s.mu.Unlock()
		l.refuseLeaf(s.leafLimit(l.acc))
		return errLeafLimit
	}
	s.leafs.conns[l.cid] = l
	s.mu.Unlock()
	s.accountConnsChanged(l.acc)
	s.stats.totalConns.Add(1)
	s.leafs.interest.add(l)
	s.log.Info("leaf node connection up", zap.String("peer", l.peer.Name), zap.String("account", l.acc.name),
		zap.Bool("to_hub", l.toHub), zap.Stringer("remote", l.conn.remote))
	s.wg.Add(2)
	go l.writeLoop()
	go l.readLoop()
	s.leafEvent(l, "")
	return nil
}

// leafDown unregisters a closed leaf connection (from its teardown).
func (s *Server) leafDown(l *leaf) {
	s.mu.Lock()
	if s.leafs.conns[l.cid] == l {
		delete(s.leafs.conns, l.cid)
	}
	s.retireLocked(&l.conn)
	s.mu.Unlock()
	s.accountConnsChanged(l.acc)
	reason := l.closeReason().String()
	if reason == "" {
		reason = ClientClosed.String()
	}
	s.log.Info("leaf node connection down", zap.String("peer", l.peer.Name), zap.String("reason", reason))
	s.leafEvent(l, reason)
	close(l.done)
}

// LeafQUICAddr is the bound QUIC leaf node listener address (nil: none).
func (s *Server) LeafQUICAddr() net.Addr {
	if s.leafs.quicLn == nil {
		return nil
	}
	return s.leafs.quicLn.Addr()
}

// LeafAddr is the bound leaf node listener address (nil: none).
func (s *Server) LeafAddr() net.Addr {
	if s.leafs.ln == nil {
		return nil
	}
	return s.leafs.ln.Addr()
}

// LeafInfo describes one live leaf node connection, for monitoring
// (/leafz).
type LeafInfo struct {
	CID        uint64
	Name       string // the peer's server name
	ID         string // the peer's server id
	ToHub      bool   // this broker dialed it (it is our hub)
	Account    string // the local account it is bound to
	Remote     string // the account the peer binds it to on its side
	Cluster    string
	RemoteAddr string
	Start      time.Time
	RTT        time.Duration
	InMsgs     int64
	OutMsgs    int64
	InBytes    int64
	OutBytes   int64
	NumSubs    int
	Subs       []string // the peer's interest, with subs only
	// Compression is the level this side writes at (s2_fast...), off,
	// or not supported (leaf_compress.go).
	Compression string
}

// Leafs returns a snapshot of the live leaf node connections, by
// connection id; the peer's interest with withSubs.
func (s *Server) Leafs(withSubs bool) []LeafInfo {
	s.mu.Lock()
	ls := slices.Collect(maps.Values(s.leafs.conns))
	s.mu.Unlock()
	out := make([]LeafInfo, 0, len(ls))
	for _, l := range ls {
		ci := l.snapshot()
		li := LeafInfo{
			CID: l.cid, Name: l.peer.Name, ID: l.peer.ID, ToHub: l.toHub, Account: l.acc.name,
			Remote: l.peer.Account, Cluster: l.peer.Cluster, RemoteAddr: ci.RemoteAddr, Start: ci.Start,
			RTT: ci.RTT, InMsgs: ci.InMsgs, OutMsgs: ci.OutMsgs, InBytes: ci.InBytes, OutBytes: ci.OutBytes,
			NumSubs: l.numSubs(), Compression: l.comp.Mode(),
		}
		if withSubs {
			li.Subs = l.subjects()
			sort.Strings(li.Subs)
		}
		out = append(out, li)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CID < out[j].CID })
	return out
}

// NumLeafs is the number of live leaf node connections.
func (s *Server) NumLeafs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leafs.conns)
}
