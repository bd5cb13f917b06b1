package broker

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// A route is a client value of kind mux.Route: it shares the reader/writer
// machinery, speaks the route protocol (internal/proto RouteParser), holds
// the remote broker's interest as subscriptions owned by the route, and gets
// each message at most once (one hop).

// RouteInfo describes one live route, for monitoring.
type RouteInfo struct {
	RID        uint64
	RemoteID   string
	RemoteName string
	Solicited  bool
	RemoteAddr string
	Start      time.Time
	Compressed bool
	InMsgs     int64
	OutMsgs    int64
	InBytes    int64
	OutBytes   int64
	NumSubs    int
	Pending    int
	RTT        time.Duration
}

// startRoute registers a handshaken route and starts its goroutines. It
// reports false (and closes conn) when a route to that peer already exists.
func (s *Server) startRoute(nc net.Conn, peer *routeInfo, solicited bool) bool {
	cid := s.nextID.Add(1)
	c := newClient(s, cid, nc, s.opts.Cluster.Listen.Transport.Name())
	c.kind = mux.Route
	c.peer = peer
	c.solicited = solicited
	c.headers.Store(true)
	_, c.compressed = nc.(*s2Conn)
	c.log = s.log.With(zap.String("route", peer.Name), zap.Stringer("remote", nc.RemoteAddr()))
	s.mu.Lock()
	if s.shutdown || !s.routeWantedLocked(peer.ID, solicited) {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	old := s.routes[peer.ID]
	s.routes[peer.ID] = c
	s.mu.Unlock()
	if old != nil {
		// Both ends dialed at once: both keep the connection the lower id
		// dialed and close the other.
		old.close(DuplicateRoute)
	}
	s.interest.addRoute(c)
	s.log.Info("route up", zap.String("peer", peer.Name), zap.String("peer_id", peer.ID),
		zap.Bool("solicited", solicited), zap.Bool("compressed", c.compressed))
	s.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	s.notifyRoute(peer.ID, true)
	return true
}

func (s *Server) notifyRoute(id string, up bool) {
	s.mu.Lock()
	fn := s.routeEvents
	s.mu.Unlock()
	if fn != nil {
		fn(id, up)
	}
}

// routeWantedLocked reports whether a new route to peerID (dialed by us
// when solicited) should be kept: yes when none exists, or when the new one
// was dialed by the lower server id and the existing one was not. Both ends
// decide the same way, so simultaneous dials settle on one connection.
func (s *Server) routeWantedLocked(peerID string, solicited bool) bool {
	old := s.routes[peerID]
	if old == nil {
		return true
	}
	lowerDialed := func(solicited bool) bool { return solicited == (s.id < peerID) }
	return lowerDialed(solicited) && !lowerDialed(old.solicited)
}

// HasRoute reports whether a route to the broker with id is up.
func (s *Server) HasRoute(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routes[id] != nil
}

// routeDown unregisters a closed route (called from its teardown).
func (s *Server) routeDown(c *client) {
	s.interest.removeRoute(c)
	s.mu.Lock()
	if s.routes[c.peer.ID] == c {
		delete(s.routes, c.peer.ID)
	}
	s.mu.Unlock()
	s.log.Info("route down", zap.String("peer", c.peer.Name), zap.String("reason", c.closeReason().String()))
	s.notifyRoute(c.peer.ID, false)
}

// CloseRoute closes the route to the broker with id, if any.
func (s *Server) CloseRoute(id string) {
	s.mu.Lock()
	c := s.routes[id]
	s.mu.Unlock()
	if c != nil {
		c.close(ServerShutdown)
	}
}

// Routes returns a snapshot of the live routes.
func (s *Server) Routes() []RouteInfo {
	s.mu.Lock()
	rs := slices.Collect(maps.Values(s.routes))
	s.mu.Unlock()
	out := make([]RouteInfo, 0, len(rs))
	for _, c := range rs {
		ci := c.snapshot(false)
		out = append(out, RouteInfo{
			RID: c.cid, RemoteID: c.peer.ID, RemoteName: c.peer.Name, Solicited: c.solicited,
			RemoteAddr: ci.RemoteAddr, Start: ci.Start, Compressed: c.compressed,
			InMsgs: ci.InMsgs, OutMsgs: ci.OutMsgs, InBytes: ci.InBytes, OutBytes: ci.OutBytes,
			NumSubs: ci.NumSubs, Pending: ci.PendingBytes, RTT: ci.RTT,
		})
	}
	return out
}

// NumRoutes is the number of live routes.
func (s *Server) NumRoutes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.routes)
}

// routeAcceptLoop accepts route connections; each handshake runs on its own
// goroutine so a slow peer cannot hold up the others.
func (s *Server) routeAcceptLoop(l *listener) {
	defer s.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return
			}
			s.log.Warn("route accept error", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go s.acceptRoute(conn)
	}
}

// Route protocol handlers (proto.RouteHandler), run on the route's reader.

func (c *client) RouteInfo([]byte) error    { return nil }
func (c *client) RouteConnect([]byte) error { return nil }

func remoteKey(subject, queue []byte) string {
	return string(subject) + " " + string(queue)
}

func (c *client) RemoteSub(subject, queue []byte, weight int) error {
	key := remoteKey(subject, queue)
	s := &mux.Sub{Subject: string(subject), Queue: string(queue), Owner: c, Weight: weight}
	c.subsMu.Lock()
	old := c.subs[key]
	c.subs[key] = s
	c.subsMu.Unlock()
	// Insert the new entry before removing the old, so a queue group never
	// vanishes between the two.
	if err := c.srv.mux.Subscribe(s); err != nil {
		c.log.Info("invalid remote subject", zap.ByteString("subject", subject))
		c.subsMu.Lock()
		if c.subs[key] == s {
			delete(c.subs, key)
		}
		c.subsMu.Unlock()
	}
	if old != nil {
		c.srv.mux.Unsubscribe(old)
	}
	return nil
}

func (c *client) RemoteUnsub(subject, queue []byte) error {
	key := remoteKey(subject, queue)
	c.subsMu.Lock()
	s := c.subs[key]
	delete(c.subs, key)
	c.subsMu.Unlock()
	if s != nil {
		c.srv.mux.Unsubscribe(s)
	}
	return nil
}

// RoutedMsg delivers a message from a peer to local subscribers only.
func (c *client) RoutedMsg(subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error {
	c.pendingIn++
	c.pendingInBytes += int64(len(msg))
	m := &c.msg
	m.Subject, m.Reply, m.Queues = subject, reply, queues
	if hdrLen >= 0 {
		m.Header, m.Payload = msg[:hdrLen], msg[hdrLen:]
	} else {
		m.Header, m.Payload = nil, msg
	}
	c.srv.mux.Publish(c, m, &c.batch)
	return nil
}

// DeliverRouted implements mux.RouteConn: one RMSG (or HMSG) carrying the
// queue groups this broker picked the peer for.
func (c *client) DeliverRouted(m *mux.Msg, queues []string) (needFlush, ok bool) {
	size := m.Size()
	c.mu.Lock()
	if !c.admitLocked(size) {
		c.mu.Unlock()
		return false, false
	}
	o := &c.out
	n := len(m.Subject) + len(m.Reply) + size + 48
	for _, q := range queues {
		n += len(q) + 1
	}
	if b := o.tail(n); b != nil {
		b = appendRoutedLine(b, m, queues)
		b = append(b, m.Header...)
		b = append(b, m.Payload...)
		o.setTail(append(b, crlf...))
	} else {
		o.write(appendRoutedLine(nil, m, queues))
		o.write(m.Header)
		o.write(m.Payload)
		o.write(crlf)
	}
	return c.appendedLocked(size), true
}

// appendRoutedLine writes the RMSG/HMSG control line for m.
func appendRoutedLine(b []byte, m *mux.Msg, queues []string) []byte {
	if m.Header != nil {
		b = append(b, "HMSG "...)
	} else {
		b = append(b, "RMSG "...)
	}
	b = append(b, m.Subject...)
	b = append(b, ' ')
	switch {
	case len(queues) > 0 && len(m.Reply) > 0:
		b = append(b, "+ "...)
		b = append(b, m.Reply...)
		b = append(b, ' ')
	case len(queues) > 0:
		b = append(b, "| "...)
	case len(m.Reply) > 0:
		b = append(b, m.Reply...)
		b = append(b, ' ')
	}
	for _, q := range queues {
		b = append(b, q...)
		b = append(b, ' ')
	}
	if m.Header != nil {
		b = strconv.AppendInt(b, int64(len(m.Header)), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(m.Size()), 10)
	return append(b, crlf...)
}
