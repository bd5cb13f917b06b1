package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
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

// connectOpts is the CONNECT JSON, with every field nats.go sends.
type connectOpts struct {
	Verbose      bool   `json:"verbose"`
	Pedantic     bool   `json:"pedantic"`
	TLSRequired  bool   `json:"tls_required"`
	Name         string `json:"name"`
	Lang         string `json:"lang"`
	Version      string `json:"version"`
	Protocol     int    `json:"protocol"`
	Echo         bool   `json:"echo"`
	Headers      bool   `json:"headers"`
	NoResponders bool   `json:"no_responders"`
	User         string `json:"user,omitempty"`
	Pass         string `json:"pass,omitempty"`
	AuthToken    string `json:"auth_token,omitempty"`
	JWT          string `json:"jwt,omitempty"`
	Nkey         string `json:"nkey,omitempty"`
	Sig          string `json:"sig,omitempty"`
}

// client is one client connection. The reader goroutine owns the parser,
// the publish batch and the connect options (written only by CONNECT on the
// reader, read by other goroutines under mu); the writer owns the socket's
// write side. Outbound data is guarded by mu.
type client struct {
	srv       *Server
	cid       uint64
	conn      net.Conn // replaced by its TLS wrapper during handshake, before other goroutines use it
	remote    net.Addr
	transport string
	log       *zap.Logger
	start     time.Time

	// Set before the goroutines start.
	kind       mux.Kind
	ln         *listener  // clients: where it was accepted (for INFO)
	peer       *routeInfo // routes: the remote broker
	solicited  bool       // routes: we dialed
	compressed bool       // routes: S2 on the wire

	// Reader-owned.
	rparser                   proto.RouteParser
	parser                    proto.Parser
	batch                     mux.Batch
	msg                       mux.Msg
	verbose, pedantic, noResp bool   // from CONNECT
	connectInfoDue            bool   // send the connect_info INFO after the next PONG
	pendingIn, pendingInBytes int64  // counted since the last flushStats
	gen                       uint64 // options generation the limits are from

	mu   sync.Mutex
	opts connectOpts
	out  outbound

	wbufs       [][]byte    // writer-owned scratch for writev
	abortWrites atomic.Bool // closed as a slow consumer: writes end at once
	closingNow  atomic.Bool // out.closing, for the reader without the lock

	subsMu sync.Mutex
	subs   map[string]*mux.Sub

	// Settings other goroutines read on the hot path.
	noEcho    atomic.Bool
	headers   atomic.Bool
	pingsOut  atomic.Int32
	pingAt    atomic.Int64 // unix nanos of the outstanding server PING (0: none)
	rtt       atomic.Int64 // last measured round trip, nanos (0: unknown)
	lastIn    atomic.Int64 // unix nanos of the last inbound data
	pingTimer *time.Timer

	inMsgs, inBytes, outMsgs, outBytes atomic.Int64

	// infoReady: the handshake PONG went out, async INFOs are safe.
	infoReady atomic.Bool

	// Authentication and permissions.
	authed        atomic.Bool
	connectSeen   atomic.Bool            // CONNECT arrived: the auth timer no longer applies
	authTimer     *time.Timer            // guarded by mu
	user          atomic.Pointer[string] // the authenticated user (nil: none)
	perms         atomic.Pointer[permissions]
	pubCache      map[string]bool // reader-owned publish decisions
	pubCachePerms *permissions    // the perms pubCache was built for
	sysDenied     bool            // reader-owned: a system user exists and this is another user
	verdicts      verdictCache    // delivery decisions of filtered subscriptions
	replies       replyPerms      // reply subjects allow_responses lets it publish to

	readerDone chan struct{}
}

func newClient(s *Server, cid uint64, conn net.Conn, transport string) *client {
	c := &client{
		srv:        s,
		cid:        cid,
		conn:       conn,
		remote:     conn.RemoteAddr(),
		transport:  transport,
		start:      time.Now(),
		subs:       make(map[string]*mux.Sub),
		readerDone: make(chan struct{}),
		log:        s.log.With(zap.Uint64("cid", cid), zap.Stringer("remote", conn.RemoteAddr())),
	}
	// nats-server's defaults before and without CONNECT fields.
	c.opts = connectOpts{Verbose: true, Pedantic: true, Echo: true}
	c.verbose, c.pedantic = true, true
	c.parser.NoHeaders = true
	o := s.o()
	c.parser.MaxControlLine = o.MaxControlLine
	c.parser.MaxPayload = o.MaxPayload
	c.out.init(o.MaxPending)
	c.lastIn.Store(c.start.UnixNano())
	return c
}

// mux.Conn implementation (the outbound half is in outbound.go).

func (c *client) Kind() mux.Kind { return c.kind }
func (c *client) NoEcho() bool   { return c.noEcho.Load() }

func (c *client) Expired(sub *mux.Sub) {
	c.subsMu.Lock()
	if c.subs[string(sub.SID)] == sub {
		delete(c.subs, string(sub.SID))
	}
	c.subsMu.Unlock()
	c.srv.localInterest(sub, -1)
}

// readLoop reads and parses until the connection fails or is closed.
// The caller has done wg.Add for it.
func (c *client) readLoop() {
	defer c.srv.wg.Done()
	defer close(c.readerDone)
	c.armPingTimer()
	buf := make([]byte, minReadBuf)
	small := 0
	for {
		n, err := c.conn.Read(buf)
		if n > 0 && c.closingNow.Load() {
			// Closing: what the peer still sends is read only so that the
			// close does not reset the connection (see teardown).
			n = 0
		}
		if n > 0 {
			c.lastIn.Store(time.Now().UnixNano())
			c.refreshLimits()
			var perr error
			if c.kind == mux.Route {
				perr = c.rparser.Parse(buf[:n], c)
			} else {
				perr = c.parser.Parse(buf[:n], c)
			}
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

// flushStats moves the batch's delivery counts into the server totals once
// per read, not once per message.
func (c *client) flushStats() {
	if c.pendingIn != 0 {
		c.inMsgs.Add(c.pendingIn)
		c.inBytes.Add(c.pendingInBytes)
		c.srv.stats.inMsgs.Add(c.pendingIn)
		c.srv.stats.inBytes.Add(c.pendingInBytes)
		c.pendingIn, c.pendingInBytes = 0, 0
	}
	b := &c.batch
	if b.Msgs != 0 {
		c.srv.stats.outMsgs.Add(b.Msgs)
		c.srv.stats.outBytes.Add(b.Bytes)
		b.Msgs, b.Bytes = 0, 0
	}
}

// closeError asks the reader to send an -ERR with text and close.
type closeError struct{ text string }

func (e *closeError) Error() string { return e.text }

// protocolError sends what nats-server sends for err and closes.
func (c *client) protocolError(err error) {
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
	case errors.Is(err, errAuthFailed):
		// Already answered and closing.
	case errors.As(err, &ce):
		c.log.Info("client error, closing", zap.String("error", ce.text))
		c.sendErr(ce.text)
		c.close(ProtocolViolation)
	default:
		c.log.Info("closing", zap.Error(err))
		c.close(ParseError)
	}
}

// proto.Handler implementation: the reader calls these.

func (c *client) Connect(arg []byte) error {
	opts := connectOpts{Verbose: true, Pedantic: true, Echo: true}
	if err := json.Unmarshal(arg, &opts); err != nil {
		c.log.Info("malformed CONNECT", zap.Error(err))
		return &proto.ViolationError{Op: "CONNECT", Arg: truncate(arg)}
	}
	if opts.Protocol < 0 || opts.Protocol > 1 {
		return &closeError{proto.ErrTextInvalidProtocol}
	}
	if opts.NoResponders && !opts.Headers {
		return &closeError{proto.ErrTextNoRespNoHeaders}
	}
	if st := c.srv.auth.Load(); st != nil {
		// The credentials are here: however long checking them takes (a
		// bcrypt hash on a busy machine), the auth timer no longer applies.
		c.connectSeen.Store(true)
		u, ok := st.check(&opts)
		if next := c.srv.auth.Load(); next != st && next != nil {
			// A reload swapped the credentials while this one was being
			// checked (and skipped this client): check against the new.
			u, ok = next.check(&opts)
		}
		if !ok {
			c.authFailed("bad credentials for user " + strconv.Quote(opts.User))
			return errAuthFailed
		}
		if u != nil {
			c.perms.Store(u.perms)
			name := opts.User
			c.user.Store(&name)
		}
		c.sysDenied = !c.srv.seesSystemReplies(c)
	}
	c.markAuthed()
	c.parser.RequireConnect = false
	c.mu.Lock()
	c.opts = opts
	c.mu.Unlock()
	c.verbose, c.pedantic, c.noResp = opts.Verbose, opts.Pedantic, opts.NoResponders
	c.parser.NoHeaders = !opts.Headers
	c.connectInfoDue = opts.Protocol >= 1
	c.noEcho.Store(!opts.Echo)
	c.headers.Store(opts.Headers)
	c.srv.traceOp(c, "CONNECT", nil)
	if opts.Verbose {
		c.enqueue(okLine)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

func (c *client) Pub(subject, reply []byte, hdrLen int, msg []byte) error {
	c.pendingIn++
	c.pendingInBytes += int64(len(msg))
	if c.srv.o().Trace {
		c.srv.traceOp(c, "PUB", subject)
	}
	if !c.canPublish(subject) {
		c.log.Info("publish permission violation", zap.ByteString("subject", subject))
		c.sendErr(fmt.Sprintf(proto.ErrTextPermPub, subject))
		return nil
	}
	if c.pedantic && !pubsub.ValidLiteralSubject(string(subject)) {
		// nats-server reports it and still delivers the message.
		c.sendErr(proto.ErrTextInvalidPubSubj)
	}
	if c.verbose {
		c.enqueue(okLine)
	}
	m := &c.msg
	m.Subject, m.Reply = subject, reply
	if hdrLen >= 0 {
		m.Header, m.Payload = msg[:hdrLen], msg[hdrLen:]
	} else {
		m.Header, m.Payload = nil, msg
	}
	n := c.srv.mux.Publish(c, m, &c.batch)
	if n == 0 && len(reply) > 0 && c.noResp {
		c.noResponders(subject, reply)
	}
	return nil
}

// noResponders answers a request nobody received with the 503 status
// message nats-server sends, on the requester's subscription for the reply.
func (c *client) noResponders(subject, reply []byte) {
	r := c.srv.mux.Match(reply)
	for _, s := range r.Plain {
		if s.Owner == mux.Conn(c) {
			c.enqueueNoResponders(s, subject, reply)
			return
		}
	}
}

func (c *client) Sub(subject, queue, sid []byte) error {
	c.srv.traceOp(c, "SUB", subject)
	c.subsMu.Lock()
	if _, dup := c.subs[string(sid)]; dup {
		// nats-server ignores a SUB that reuses a live sid.
		c.subsMu.Unlock()
		c.okIfVerbose()
		return nil
	}
	if max := c.srv.o().MaxSubscriptions; max > 0 && len(c.subs) >= max {
		c.subsMu.Unlock()
		c.log.Info("maximum subscriptions exceeded")
		c.sendErr(proto.ErrTextMaxSubs)
		return nil
	}
	if !c.canSubscribe(string(subject), string(queue)) {
		c.subsMu.Unlock()
		c.log.Info("subscribe permission violation", zap.ByteString("subject", subject))
		if len(queue) > 0 {
			c.sendErr(fmt.Sprintf(proto.ErrTextPermSubQueue, subject, queue))
		} else {
			c.sendErr(fmt.Sprintf(proto.ErrTextPermSub, subject))
		}
		return nil
	}
	s := &mux.Sub{Subject: string(subject), Queue: string(queue), SID: append([]byte(nil), sid...), Owner: c}
	if c.srv.auth.Load().hasUsers() && pubsub.HasWildcard(s.Subject) {
		s.Filter = &subFilter{c: c}
	}
	if err := c.srv.mux.Subscribe(s); err != nil {
		c.subsMu.Unlock()
		c.log.Info("invalid subject", zap.ByteString("subject", subject))
		c.sendErr(proto.ErrTextInvalidSubject)
		return nil
	}
	c.subs[string(s.SID)] = s
	c.subsMu.Unlock()
	c.srv.localInterest(s, +1)
	c.okIfVerbose()
	return nil
}

func (c *client) Unsub(sid []byte, max int) error {
	c.srv.traceOp(c, "UNSUB", sid)
	c.subsMu.Lock()
	s := c.subs[string(sid)]
	remove := s != nil && (max <= 0 || !s.SetMax(max))
	if remove {
		delete(c.subs, string(sid))
		remove = true
	}
	c.subsMu.Unlock()
	if remove && c.srv.mux.Unsubscribe(s) {
		c.srv.localInterest(s, -1)
	}
	c.okIfVerbose()
	return nil
}

func (c *client) okIfVerbose() {
	if c.verbose {
		c.enqueue(okLine)
	}
}

func (c *client) Ping() error {
	c.srv.traceOp(c, "PING", nil)
	c.enqueue(pongLine)
	if c.authed.Load() {
		// From now on async INFOs (connect_urls, ldm) may be sent: a client
		// still in its CONNECT/PING handshake expects PONG first.
		c.infoReady.Store(true)
	}
	if c.connectInfoDue {
		c.connectInfoDue = false
		c.enqueue(c.srv.connectInfoLine(c))
	}
	return nil
}

func (c *client) Pong() error {
	c.srv.traceOp(c, "PONG", nil)
	c.pingsOut.Store(0)
	if at := c.pingAt.Swap(0); at != 0 {
		c.rtt.Store(max(time.Now().UnixNano()-at, 1))
	}
	return nil
}

// Info from a client is ignored, as nats-server does.
func (c *client) Info([]byte) error { return nil }

// OK from a client is ignored.
func (c *client) OK() error { return nil }

// Err from a client closes it, as nats-server does.
func (c *client) Err(arg []byte) error {
	c.log.Info("client sent -ERR, closing", zap.ByteString("error", arg))
	c.close(ClientClosed)
	return errClientErr
}

var errClientErr = errors.New("client sent -ERR")

// armPingTimer schedules the next server PING.
func (c *client) armPingTimer() {
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
func (c *client) onPingTimer() {
	interval := c.srv.o().PingInterval
	if c.pingsOut.Load()+1 > int32(c.srv.o().PingMax) {
		c.log.Info("stale connection, closing")
		c.srv.stats.stale.Add(1)
		c.sendErr(proto.ErrTextStale)
		c.close(StaleConnection)
		return
	}
	// Inbound traffic in the last interval proves the client alive; still
	// PING once to learn the round-trip time. No PING while the reader is
	// still checking the CONNECT credentials (a slow bcrypt hash): the
	// client's handshake expects PONG first.
	checking := c.connectSeen.Load() && !c.authed.Load()
	if !checking && (time.Since(time.Unix(0, c.lastIn.Load())) >= interval || c.rtt.Load() == 0) {
		c.pingsOut.Add(1)
		c.pingAt.CompareAndSwap(0, time.Now().UnixNano())
		c.enqueue(pingLine)
	}
	c.mu.Lock()
	if !c.out.closing {
		c.pingTimer.Reset(interval)
	}
	c.mu.Unlock()
}
