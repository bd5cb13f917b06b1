package broker

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
)

// Read buffer sizing: start small so idle connections are cheap, grow while
// reads fill the buffer, shrink back when traffic calms.
const (
	minReadBuf = 512
	maxReadBuf = 64 * 1024
)

// conn is the connection core every protocol shares: the socket, the
// reader loop and its read buffer, the outbound queue and its writer
// (conn_out.go), the inline flush a producer may do, the ping timer, the
// close and the counters. A connection type (client, route) embeds it and
// adds its parser and its subscription bookkeeping through protocol.
//
// Goroutines: the reader (readLoop) owns the parser, the publish batch and
// the read counters; the writer (writeLoop) owns the socket's write side
// and tears the connection down; both are started by the Server, which
// waits for them. Outbound data is guarded by mu.
type conn struct {
	srv       *Server
	cid       uint64
	nc        net.Conn // a client's is replaced by its TLS wrapper during the handshake, before other goroutines use it
	remote    net.Addr
	transport string
	log       *zap.Logger
	trace     bool // Options.Trace when accepted: log every op in and out (trace.go)
	start     time.Time
	proto     protocol // the connection type on top of this core

	// Reader-owned.
	batch                     mux.Batch
	msg                       mux.Msg
	pendingIn, pendingInBytes int64  // counted since the last flushStats
	gen                       uint64 // options generation the limits are from

	mu  sync.Mutex
	out outbound
	// capProto: protocol lines (PONG, +OK, -ERR, INFO) count against
	// max_pending like messages (clients); routes queue them regardless.
	capProto bool

	wbufs       [][]byte    // writer-owned scratch for writev
	abortWrites atomic.Bool // closed as a slow consumer: writes end at once
	closingNow  atomic.Bool // out.closing, for the reader without the lock

	pingsOut  atomic.Int32
	pingAt    atomic.Int64  // unix nanos of the outstanding server PING (0: none)
	pingAtSeq atomic.Uint64 // its number among the PINGs sent (pingSeq)
	// pingSeq counts the PINGs queued to the peer and pongSeq its PONGs,
	// which come in order; pongCh is closed at the next PONG (nextPong).
	// The interest barrier (barrier.go) waits on them.
	pingSeq, pongSeq atomic.Uint64
	pongMu           sync.Mutex
	pongCh           chan struct{}
	pingHold         atomic.Bool  // no server PING now (a client's credentials are being checked)
	rtt              atomic.Int64 // last measured round trip, nanos (0: unknown)
	lastIn           atomic.Int64 // unix nanos of the last inbound data
	pingTimer        *time.Timer  // guarded by mu

	// inMsgs/inBytes: what the peer sent; outMsgs/outBytes: what was
	// queued to it; fanMsgs/fanBytes: the deliveries its messages made
	// (server out_msgs are the sum of these, see Server.Stats).
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	fanMsgs, fanBytes                  atomic.Int64
	matches, hits                      atomic.Int64 // index lookups its messages made

	readerDone chan struct{}
}

// protocol is what a connection type adds to the core. All of it runs on
// the connection's own goroutines.
type protocol interface {
	// parse handles bytes read from the peer, on the reader. An error
	// closes the connection (see protocolError).
	parse(b []byte) error
	// reloaded picks up reloaded options, on the reader before a parse.
	reloaded(o *Options)
	// closed runs once on the writer after the socket is closed and the
	// reader has stopped: it drops the connection's subscriptions and
	// unregisters it from the server.
	closed()
}

func (c *conn) init(s *Server, cid uint64, nc net.Conn, transport string, p protocol) {
	c.srv, c.cid, c.nc, c.remote, c.transport, c.proto = s, cid, nc, nc.RemoteAddr(), transport, p
	c.start = time.Now()
	c.readerDone = make(chan struct{})
	c.log = s.log.With(zap.Uint64("cid", cid), zap.Stringer("remote", nc.RemoteAddr()))
	o := s.o()
	if _, client := p.(*client); client {
		c.trace = o.Trace // routes are not traced (yet)
	}
	c.gen = s.gen.Load()
	c.out.init(o.MaxPending)
	c.lastIn.Store(c.start.UnixNano())
}

// Flush, part of mux.Conn, is in conn_out.go.

// readLoop reads and parses until the connection fails or is closed.
// The caller has done wg.Add for it.
func (c *conn) readLoop() {
	defer c.srv.wg.Done()
	defer close(c.readerDone)
	c.armPingTimer()
	buf := make([]byte, minReadBuf)
	small := 0
	for {
		n, err := c.nc.Read(buf)
		if n > 0 && c.closingNow.Load() {
			// Closing: what the peer still sends is read only so that the
			// close does not reset the connection (see teardown).
			n = 0
		}
		if n > 0 {
			c.lastIn.Store(time.Now().UnixNano())
			c.refreshLimits()
			perr := c.proto.parse(buf[:n])
			c.batch.Flush()
			c.flushStats()
			if perr != nil {
				c.protocolError(perr)
				return
			}
			// Adapt the buffer to the traffic.
			switch {
			case n == len(buf) && len(buf) < maxReadBuf:
				buf = make([]byte, 2*len(buf))
				small = 0
			case n < len(buf)/2 && len(buf) > minReadBuf:
				if small++; small > 16 {
					buf = make([]byte, len(buf)/2)
					small = 0
				}
			default:
				small = 0
			}
		}
		if err != nil {
			c.close(ClientClosed)
			return
		}
	}
}

// refreshLimits picks up reloaded limits on the reader, between reads.
func (c *conn) refreshLimits() {
	gen := c.srv.gen.Load()
	if gen == c.gen {
		return
	}
	c.gen = gen
	o := c.srv.o()
	c.mu.Lock()
	c.out.maxPending = o.MaxPending
	c.mu.Unlock()
	c.proto.reloaded(o)
}

// flushStats moves what one read counted into the connection's counters
// (read by Server.Stats), once per read, not once per message.
func (c *conn) flushStats() {
	if c.pendingIn != 0 {
		c.inMsgs.Add(c.pendingIn)
		c.inBytes.Add(c.pendingInBytes)
		c.pendingIn, c.pendingInBytes = 0, 0
	}
	b := &c.batch
	if b.Msgs != 0 {
		c.fanMsgs.Add(b.Msgs)
		c.fanBytes.Add(b.Bytes)
		b.Msgs, b.Bytes = 0, 0
	}
	if b.Lookups.Matches != 0 {
		c.matches.Add(int64(b.Lookups.Matches))
		c.hits.Add(int64(b.Lookups.Hits))
		b.Lookups = pubsub.MatchCount{}
	}
}

// countIn counts one inbound message (reader only).
func (c *conn) countIn(size int) {
	c.pendingIn++
	c.pendingInBytes += int64(size)
}

// closeError asks the reader to send an -ERR with text and close.
type closeError struct {
	text   string
	reason CloseReason // 0: ProtocolViolation
}

func (e *closeError) Error() string { return e.text }

// protocolError sends what nats-server sends for err and closes.
func (c *conn) protocolError(err error) {
	var ce *closeError
	var ve *proto.ViolationError
	switch {
	case errors.As(err, &ve):
		c.log.Info("protocol violation, closing", zap.Error(err))
		c.close(ProtocolViolation)
		return
	case errors.Is(err, proto.ErrMaxControlLine):
		c.log.Info("maximum control line exceeded, closing")
		c.sendErr(proto.ErrTextMaxControlLine)
		c.close(MaxControlLineExceeded)
	case errors.Is(err, proto.ErrMaxPayload):
		c.log.Info("maximum payload exceeded, closing")
		c.sendErr(proto.ErrTextMaxPayload)
		c.close(MaxPayloadExceeded)
	case errors.Is(err, proto.ErrAuthViolation):
		c.authFailed("operation before CONNECT")
	case errors.Is(err, proto.ErrUnknownOp):
		c.log.Info("unknown protocol operation, closing")
		c.sendErr(proto.ErrTextUnknownOp)
		c.close(ParseError)
	case errors.Is(err, errAuthFailed), errors.Is(err, errPeerErr):
		// Already answered and closing.
	case errors.As(err, &ce):
		c.log.Info("client error, closing", zap.String("error", ce.text))
		c.sendErr(ce.text)
		if ce.reason == 0 {
			ce.reason = ProtocolViolation
		}
		c.close(ce.reason)
	default:
		c.log.Info("closing", zap.Error(err))
		c.close(ParseError)
	}
}

// authFailed answers a failed authentication as nats-server: -ERR
// 'Authorization Violation', then close; logged and counted.
func (c *conn) authFailed(why string) {
	c.log.Info("authorization violation, closing", zap.String("why", why))
	c.srv.stats.authFailures.Add(1)
	c.closeWithErr(proto.ErrTextAuthViolation, AuthenticationViolation)
}

// Ops every NATS-speaking peer may send, whatever the protocol on top.

// pong records the answer to the server's PING.
func (c *conn) pong() {
	n := c.ponged()
	c.pingsOut.Store(0)
	if n < c.pingAtSeq.Load() {
		return // the answer to an earlier PING (an interest barrier's)
	}
	if at := c.pingAt.Swap(0); at != 0 {
		c.rtt.Store(max(time.Now().UnixNano()-at, 1))
	}
}

// peerErr closes a connection whose peer sent -ERR, as nats-server does.
func (c *conn) peerErr(arg []byte) error {
	c.log.Info("peer sent -ERR, closing", zap.ByteString("error", arg))
	c.close(ClientClosed)
	return errPeerErr
}

var errPeerErr = errors.New("peer sent -ERR")

// armPingTimer schedules the next server PING.
func (c *conn) armPingTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out.closing {
		return
	}
	// The first PING comes early (as nats-server's first ping), so the
	// round-trip time is known soon after connect.
	c.pingTimer = time.AfterFunc(min(c.srv.o().PingInterval, firstPingInterval), c.onPingTimer)
}

// firstPingInterval is when the first server PING goes out.
const firstPingInterval = 2 * time.Second

// onPingTimer sends a PING, or closes a connection whose PINGs went
// unanswered ping_max times, as nats-server's processPingTimer.
func (c *conn) onPingTimer() {
	interval := c.srv.o().PingInterval
	if c.pingsOut.Load()+1 > int32(c.srv.o().PingMax) {
		c.log.Info("stale connection, closing")
		c.srv.stats.stale.Add(1)
		switch c.proto.(type) {
		case *route:
			c.srv.stats.staleRoutes.Add(1)
		case *leaf:
			c.srv.stats.staleLeafs.Add(1)
		}
		c.sendErr(proto.ErrTextStale)
		c.close(StaleConnection)
		return
	}
	// Inbound traffic in the last interval proves the peer alive; still
	// PING once to learn the round-trip time.
	if !c.pingHold.Load() && (time.Since(time.Unix(0, c.lastIn.Load())) >= interval || c.rtt.Load() == 0) {
		c.pingsOut.Add(1)
		seq := c.pingSeq.Add(1)
		if c.pingAt.Load() == 0 {
			// The number first: a PONG in between must not take this
			// PING's send time (only this timer sets pingAt).
			c.pingAtSeq.Store(seq)
			c.pingAt.Store(time.Now().UnixNano())
		}
		c.enqueue(pingLine)
	}
	c.mu.Lock()
	if !c.out.closing {
		c.pingTimer.Reset(interval)
	}
	c.mu.Unlock()
}

// snapshot copies the core's state for monitoring; the connection type
// adds its own (subscriptions, client name).
func (c *conn) snapshot() ConnInfo {
	c.mu.Lock()
	ci := ConnInfo{
		CID:          c.cid,
		Transport:    c.transport,
		RemoteAddr:   c.remote.String(),
		Start:        c.start,
		PendingBytes: c.out.pending(),
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
	return ci
}
