package broker

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/jwt/v2"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
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
	// certIDs are the identities of the client's TLS certificate when the
	// listener maps certificates to users (verify_and_map); not sent.
	certIDs []string
}

// client is one client connection: the connection core (conn) speaking
// the client protocol. The reader owns the parser and the connect options
// (written only by CONNECT, read by other goroutines under mu).
type client struct {
	conn
	ln *listener // where it was accepted (for INFO)

	// Reader-owned.
	parser                    proto.Parser
	mapBuf                    []byte // the mapped subject of the message being published
	verbose, pedantic, noResp bool   // from CONNECT
	connectInfoDue            bool   // send the connect_info INFO after the next PONG
	interestChanged           bool   // a SUB or UNSUB since the last PING (the interest barrier)
	sampleTick                uint32 // publishes counted for subject sampling (subjects.go)

	opts connectOpts // guarded by mu

	// acc is the client's account: $G until CONNECT logs it in as a user
	// of another (a later CONNECT may log it in elsewhere, as in
	// nats-server; a reload that moves the user closes the client). Only
	// joinAccount changes it.
	acc atomic.Pointer[account]
	// accBase is the client's counts when it entered acc: what it
	// counted since is acc's (guarded by Server.mu). admitted: a CONNECT
	// admitted it into acc (reader-owned).
	accBase  clientCounts
	admitted bool
	nonce    []byte // sent in INFO for nkey users to sign (nil: none)
	// certIDs name the user when the listener maps certificates to
	// users (TLSOptions.Map); set by the TLS handshake, before CONNECT.
	certIDs []string
	// announced: a connect event went out (reader-owned; read by closed,
	// after the reader stopped), so the disconnect event follows.
	announced bool

	subsMu sync.Mutex
	subs   map[string]*mux.Sub // by sid

	// Settings other goroutines read on the hot path.
	noEcho  atomic.Bool
	headers atomic.Bool

	// infoReady: the handshake PONG went out, async INFOs are safe.
	infoReady atomic.Bool
	infoGen   uint64 // Server.infoGen when the client's INFO was made

	// Authentication and permissions.
	authed      atomic.Bool
	connectSeen atomic.Bool // CONNECT arrived: the auth timer no longer applies
	authTimer   *time.Timer // guarded by mu
	expiryTimer *time.Timer // closes at the user JWT's expiry; guarded by mu
	// A JWT user's subscription and payload limits, plus one (0: none but
	// the server's; 1: a limit of zero); a pushed account JWT may lower
	// them while the client runs.
	maxSubs, maxPayload atomic.Int64
	viaCallout          atomic.Bool                    // logged in by the auth callout (reload keeps it)
	issued              atomic.Pointer[jwt.UserClaims] // the user JWT an operator-mode callout issued
	user                atomic.Pointer[string]         // the authenticated user (nil: none)
	perms               atomic.Pointer[permissions]
	pubCache            map[string]bool // reader-owned publish decisions
	pubCachePerms       *permissions    // the perms pubCache was built for
	verdicts            verdictCache    // delivery decisions of filtered subscriptions
	replies             replyPerms      // reply subjects allow_responses lets it publish to
}

func newClient(s *Server, cid uint64, nc net.Conn, ln *listener) *client {
	// A random start, so connections that publish fewer than
	// SubjectSampleEvery messages are still sampled in proportion.
	c := &client{ln: ln, subs: make(map[string]*mux.Sub), sampleTick: rand.Uint32(), infoGen: s.infoGen.Load()}
	c.init(s, cid, nc, ln.transport, c)
	c.acc.Store(s.gacc)
	if s.authFor(ln).wantsNonce() {
		c.nonce = newNonce()
	}
	c.capProto = true
	// nats-server's defaults before and without CONNECT fields.
	c.opts = connectOpts{Verbose: true, Pedantic: true, Echo: true}
	c.verbose, c.pedantic = true, true
	c.parser.NoHeaders = true
	o := s.o()
	c.parser.MaxControlLine = o.MaxControlLine
	c.parser.MaxPayload = o.MaxPayload
	return c
}

// protocol implementation.

func (c *client) parse(b []byte) error { return c.parser.Parse(b, c) }

func (c *client) reloaded(o *Options) {
	c.parser.MaxControlLine, c.parser.MaxPayload = o.MaxControlLine, o.MaxPayload
	if mp := int(c.maxPayload.Load()) - 1; mp >= 0 && mp < o.MaxPayload {
		c.parser.MaxPayload = mp
	}
}

// closed drops the client's subscriptions (and their interest on the
// routes) and unregisters it.
func (c *client) closed() {
	c.mu.Lock()
	if c.expiryTimer != nil {
		c.expiryTimer.Stop()
	}
	c.mu.Unlock()
	c.subsMu.Lock()
	subs := c.subs
	c.subs = map[string]*mux.Sub{}
	c.subsMu.Unlock()
	acc := c.acc.Load()
	for _, s := range subs {
		if acc.mux.Unsubscribe(s) {
			c.srv.localInterest(acc, s, -1)
		}
	}
	if r := c.closeReason(); c.announced || r == AuthenticationViolation || r == AuthenticationTimeout {
		c.srv.clientDisconnected(c, r)
	}
	c.srv.removeClient(c)
}

// mux.Conn implementation (Deliver is in client_out.go, Flush in conn_out.go).

func (c *client) Kind() mux.Kind { return mux.Client }
func (c *client) NoEcho() bool   { return c.noEcho.Load() }

func (c *client) Expired(sub *mux.Sub) {
	c.subsMu.Lock()
	if c.subs[string(sub.SID)] == sub {
		delete(c.subs, string(sub.SID))
	}
	c.subsMu.Unlock()
	c.srv.localInterest(c.acc.Load(), sub, -1)
}

// proto.Handler implementation: the reader calls these.

func (c *client) Connect(arg []byte) error {
	if c.trace {
		c.traceIn("CONNECT", redactSecrets(arg))
	}
	opts := connectOpts{Verbose: true, Pedantic: true, Echo: true}
	if err := json.Unmarshal(arg, &opts); err != nil {
		c.log.Info("malformed CONNECT", zap.Error(err))
		return &proto.ViolationError{Op: "CONNECT", Arg: truncate(arg)}
	}
	if opts.Protocol < 0 || opts.Protocol > 1 {
		return &closeError{text: proto.ErrTextInvalidProtocol}
	}
	if opts.NoResponders && !opts.Headers {
		return &closeError{text: proto.ErrTextNoRespNoHeaders}
	}
	acc := c.acc.Load()
	c.fillFromCookies(&opts)
	opts.certIDs = c.certIDs
	if st := c.srv.authFor(c.ln); st != nil {
		// The credentials are here: however long checking them takes (a
		// bcrypt hash on a busy machine), the auth timer no longer applies.
		c.connectSeen.Store(true)
		c.pingHold.Store(true) // the client's handshake expects PONG first
		u, err := c.authenticate(st, &opts)
		if next := c.srv.authFor(c.ln); next != st && next != nil {
			// A reload swapped the credentials while this one was being
			// checked (and skipped this client): check against the new.
			u, err = c.authenticate(next, &opts)
		}
		if err != nil {
			c.authFailed(err.Error())
			return errAuthFailed
		}
		acc = c.srv.gacc // a token login
		if u != nil {
			if u.jwt != nil && u.jwt.account != nil {
				acc = c.srv.jwtAccount(u.jwt.account)
			} else if acc = c.srv.account(u.account); acc == nil {
				c.authFailed("account " + strconv.Quote(u.account) + " is gone")
				return errAuthFailed
			}
		}
		if c.authed.Load() && acc != c.acc.Load() {
			// Its subscriptions live in the first account's index.
			c.authFailed("a second CONNECT may not change the account")
			return errAuthFailed
		}
		// Stored before the grant, so a reload re-checks these
		// credentials, not the previous CONNECT's.
		c.mu.Lock()
		c.opts = opts
		c.mu.Unlock()
		c.setLogin(u)
	}
	if !c.srv.joinAccount(c, acc) {
		c.log.Info("maximum account active connections exceeded", zap.String("account", acc.name))
		return &closeError{text: proto.ErrTextMaxAccountConns, reason: MaxAccountConnectionsExceeded}
	}
	c.markAuthed()
	c.parser.RequireConnect = false
	if !c.announced {
		defer func() {
			c.announced = true
			c.srv.clientConnected(c)
		}()
	}
	c.mu.Lock()
	c.opts = opts
	c.mu.Unlock()
	c.verbose, c.pedantic, c.noResp = opts.Verbose, opts.Pedantic, opts.NoResponders
	c.parser.NoHeaders = !opts.Headers
	c.connectInfoDue = opts.Protocol >= 1
	c.noEcho.Store(!opts.Echo)
	c.headers.Store(opts.Headers)
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
	c.countIn(len(msg))
	if c.trace {
		c.tracePub(subject, reply, hdrLen, msg)
	}
	acc := c.acc.Load()
	orig := subject
	if mapped, ok := acc.mapSubject(&c.mapBuf, subject); ok {
		c.srv.traceMapping(c, subject, mapped)
		if len(mapped) == 0 {
			c.okIfVerbose() // the share a weighted mapping drops: taken, delivered nowhere
			return nil
		}
		subject = mapped
	}
	if !c.canPublish(subject) {
		c.log.Info("publish permission violation", zap.ByteString("subject", subject))
		c.sendErr(fmt.Sprintf(proto.ErrTextPermPub, subject))
		return nil
	}
	if c.pedantic && !pubsub.ValidLiteralSubject(string(orig)) {
		// nats-server reports it and still delivers the message.
		c.sendErr(proto.ErrTextInvalidPubSubj)
	}
	if c.verbose {
		c.enqueue(okLine)
	}
	c.sampleSubject(acc, subject)
	m := &c.msg
	m.Subject, m.Reply, m.Account = subject, reply, acc.name
	if hdrLen >= 0 {
		m.Header, m.Payload = msg[:hdrLen], msg[hdrLen:]
	} else {
		m.Header, m.Payload = nil, msg
	}
	n := acc.mux.Publish(c, m, &c.batch)
	if n == 0 && len(reply) > 0 && c.noResp {
		c.noResponders(subject, reply)
	}
	return nil
}

// noResponders answers a request nobody received with the 503 status
// message nats-server sends, on the requester's subscription for the reply.
func (c *client) noResponders(subject, reply []byte) {
	r := c.acc.Load().mux.Match(reply)
	for _, s := range r.Plain {
		if s.Owner == mux.Conn(c) {
			c.enqueueNoResponders(s, subject, reply)
			return
		}
	}
}

func (c *client) Sub(subject, queue, sid []byte) error {
	if c.trace {
		c.traceIn("SUB", joinArgs(subject, queue, sid))
	}
	c.subsMu.Lock()
	if _, dup := c.subs[string(sid)]; dup {
		// nats-server ignores a SUB that reuses a live sid.
		c.subsMu.Unlock()
		c.okIfVerbose()
		return nil
	}
	if max := c.subLimit(); max >= 0 && len(c.subs) >= max {
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
	if c.srv.authFor(c.ln).hasUsers() && pubsub.HasWildcard(s.Subject) {
		s.Filter = &subFilter{c: c}
	}
	acc := c.acc.Load()
	if err := acc.mux.Subscribe(s); err != nil {
		c.subsMu.Unlock()
		c.log.Info("invalid subject", zap.ByteString("subject", subject))
		c.sendErr(proto.ErrTextInvalidSubject)
		return nil
	}
	c.subs[string(s.SID)] = s
	c.subsMu.Unlock()
	c.srv.localInterest(acc, s, +1)
	c.interestChanged = true
	c.okIfVerbose()
	return nil
}

func (c *client) Unsub(sid []byte, max int) error {
	if c.trace {
		var n []byte
		if max > 0 {
			n = strconv.AppendInt(nil, int64(max), 10)
		}
		c.traceIn("UNSUB", joinArgs(sid, n))
	}
	c.subsMu.Lock()
	s := c.subs[string(sid)]
	remove := s != nil && (max <= 0 || !s.SetMax(max))
	if remove {
		delete(c.subs, string(sid))
		remove = true
	}
	c.subsMu.Unlock()
	if acc := c.acc.Load(); remove && acc.mux.Unsubscribe(s) {
		c.srv.localInterest(acc, s, -1)
		c.interestChanged = true
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
	if c.trace {
		c.traceIn("PING", nil)
	}
	if c.interestChanged {
		// Every route learns the new interest before the PONG (barrier.go).
		// What this read delivered goes out first: the wait must not hold
		// up other connections' output.
		c.interestChanged = false
		c.batch.Flush()
		c.srv.awaitRoutes()
	}
	c.enqueue(pongLine)
	if c.authed.Load() && !c.infoReady.Load() {
		// From now on async INFOs (connect_urls, ldm) may be sent: a client
		// still in its CONNECT/PING handshake expects PONG first. One sent
		// to every client since this one's INFO may have found it not
		// ready: it gets a fresh INFO now (either the sender sees it
		// ready, or it sees the sender's generation).
		c.infoReady.Store(true)
		if c.srv.infoGen.Load() != c.infoGen && !c.connectInfoDue { // that INFO, below, is fresh too
			c.enqueue(c.srv.infoFor(c.ln, c.cid, c.remote, nil))
		}
	}
	if c.connectInfoDue {
		c.connectInfoDue = false
		c.enqueue(c.srv.connectInfoLine(c))
	}
	return nil
}

func (c *client) Pong() error {
	if c.trace {
		c.traceIn("PONG", nil)
	}
	c.pong()
	return nil
}

// Info from a client is ignored, as nats-server does.
func (c *client) Info([]byte) error { return nil }

// OK from a client is ignored.
func (c *client) OK() error { return nil }

// Err from a client closes it, as nats-server does.
func (c *client) Err(arg []byte) error { return c.peerErr(arg) }

// subLimit is the most subscriptions c may hold (-1: no limit): the
// server's max_subscriptions, or a JWT user's lower limit.
func (c *client) subLimit() int {
	max := c.srv.o().MaxSubscriptions
	if max <= 0 {
		max = -1
	}
	if ms := int(c.maxSubs.Load()) - 1; ms >= 0 && (max < 0 || ms < max) {
		return ms
	}
	return max
}

// expireAt closes c when its user JWT expires, as nats-server: -ERR
// 'User Authentication Expired'.
func (c *client) expireAt(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiryTimer != nil {
		c.expiryTimer.Stop()
	}
	c.expiryTimer = nil
	if t.IsZero() {
		return // no expiry
	}
	c.expiryTimer = time.AfterFunc(time.Until(t), func() {
		if c.closingNow.Load() {
			return
		}
		c.log.Info("user JWT expired, closing")
		c.sendErr(proto.ErrTextAuthExpired)
		c.close(AuthenticationExpired)
	})
}

// authenticate checks CONNECT o against st: through the auth callout
// when one is configured and o is not one of its own users.
func (c *client) authenticate(st *authState, o *connectOpts) (*userEntry, error) {
	u, err := c.authenticateAs(st, o)
	if err == nil && u != nil && u.jwt != nil && !connTypeAllowed(u.jwt.connTypes, c.transport) {
		return nil, fmt.Errorf("connection type %q not in the user's allowed_connection_types", c.transport)
	}
	return u, err
}

// connTypeAllowed matches a transport to JWT connection types: WebSocket
// is WEBSOCKET, TCP and QUIC are STANDARD. Types the broker does not
// serve (MQTT, LEAFNODE, ...) admit nothing here, as in nats-server.
func connTypeAllowed(types jwt.StringList, transport string) bool {
	if len(types) == 0 {
		return true
	}
	want := jwt.ConnectionTypeStandard
	if transport == "websocket" {
		want = jwt.ConnectionTypeWebsocket
	}
	for _, t := range types {
		if strings.EqualFold(t, want) {
			return true
		}
	}
	return false
}

func (c *client) authenticateAs(st *authState, o *connectOpts) (*userEntry, error) {
	return c.srv.login(st, o, c.calloutPeer())
}

// login checks CONNECT o of p (a client or a leaf) against st, through
// the auth callout when one is configured and o is not one of its own
// users.
func (s *Server) login(st *authState, o *connectOpts, p *calloutPeer) (*userEntry, error) {
	if co := st.callout; co != nil {
		// Only a login that checks out as one of the callout's own users
		// bypasses it (decided on the entry the credentials prove, not
		// the name they claim).
		if u, err := st.check(o, p.nonce, p.remote); err == nil && u != nil && co.isAuthUser(u.name) {
			return u, nil
		}
		return s.callout(p, o, co, st.timeout)
	}
	u, err := st.check(o, p.nonce, p.remote)
	if co := accountCallout(st.op, u); err == nil && co != nil {
		// Operator mode: the user's account hands its logins to a service
		// in it; the JWT presented only got the client this far.
		s.jwtAccount(u.jwt.account)
		return s.callout(p, o, co, st.timeout)
	}
	return u, err
}

// setLogin applies a login's grant to c, replacing a previous CONNECT's:
// permissions, user, JWT limits and expiry (u nil: a token login).
func (c *client) setLogin(u *userEntry) {
	if u == nil {
		c.perms.Store(nil)
		c.user.Store(nil)
		c.viaCallout.Store(false)
		c.issued.Store(nil)
		c.setGrantLimits(&jwtGrant{maxSubs: -1, maxPayload: -1})
		c.expireAt(time.Time{})
		return
	}
	g := u.jwt
	if g == nil {
		g = &jwtGrant{maxSubs: -1, maxPayload: -1}
	}
	c.applyGrant(g)
	c.viaCallout.Store(u.callout)
	c.issued.Store(u.issued)
	c.perms.Store(u.perms)
	c.user.Store(&u.name)
}
