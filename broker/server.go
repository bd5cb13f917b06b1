// Package broker is the NATS-protocol server: it accepts client streams from
// any transport, speaks the client protocol on each, and hands published
// messages to the multiplexor (package mux) for fan-out.
//
// Each connection has two goroutines, a reader (parse, publish) and a writer
// (coalesce and flush outbound data); the Server owns both and Close waits
// for them.
package broker

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/transport"
	"github.com/murmurmq/murmur/transport/tcp"
)

// Server is one broker.
type Server struct {
	// opts are the options the server started with; fields that reload
	// can change are read through o() instead.
	opts Options
	live atomic.Pointer[Options]
	id   string
	key  nkeys.KeyPair // the server nkey: id is its public key
	// calloutState routes auth callout answers (nil until the first).
	calloutMu    sync.Mutex
	calloutState map[*account]*callouts
	log          *zap.Logger
	wg           sync.WaitGroup

	// gacc is the global account $G; accounts holds every account by name
	// (replaced under mu, read without a lock).
	gacc      *account
	sysacc    *account // the system account (named, or the implicit $SYS)
	accounts  atomic.Pointer[accountSet]
	imports   importState
	responses *responseMap
	eventSeq  atomic.Uint64 // numbers the server blocks of $SYS events

	reloadMu sync.Mutex // one Reload at a time

	mu          sync.Mutex
	info        Info
	claimsHook  atomic.Pointer[func(string)] // OnAccountClaims (account_jetstream.go)
	connectURLs []string
	// wsConnectURLs are connect_urls for WebSocket clients (host:port of
	// the cluster's WebSocket listeners).
	wsConnectURLs []string
	listeners     []*listener
	clients       map[uint64]*client
	routes        map[string]*route // by peer server id
	routeLn       *listener
	interest      *interest
	// routeEvents and routeAdmission are the RouteObserver's methods
	// (nil: none), set together by SetRouteObserver.
	routeEvents    func(peerID string, up bool)
	routeLearner   func(id, url string) // implicit routes (SetRouteLearner)
	barrierLogAt   atomic.Int64         // unix nanos of the last barrier timeout warning
	infoGen        atomic.Uint64        // async INFOs sent to all clients (sendAsyncInfo)
	routeAdmission func(peerID string) bool
	closed         []ClosedConn // ring of recently closed connections
	closedNext     int
	started        bool
	shutdown       bool

	start time.Time
	// configTime is when the options in force were loaded (UnixNano): New,
	// Start (as nats-server, the start time), then each successful Reload.
	configTime atomic.Int64
	nextID     atomic.Uint64
	stats      serverStats
	auth       atomic.Pointer[authState] // nil: no authentication required
	gen        atomic.Uint64             // bumped by Reload; readers refresh their limits
	// sys is the running system responder (nil: none).
	sys atomic.Pointer[System]
	// leafs is the leaf node part (leaf_server.go).
	leafs leafState
}

type serverStats struct {
	// Message totals of closed connections and the system responder;
	// live connections count their own (see Stats).
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	matches, hits                      atomic.Int64
	totalConns, slowConsumers, stale   atomic.Int64
	authFailures, tlsFailures          atomic.Int64
	barrierTimeouts                    atomic.Int64 // interest barriers a route did not answer in time
	// The part of the message totals that closed client connections
	// carried (nats-server's in_client_msgs and kin), and the slow and
	// stale ones among the totals that were routes.
	clientInMsgs, clientInBytes, clientOutMsgs, clientOutBytes atomic.Int64
	slowRoutes, staleRoutes                                    atomic.Int64
	slowLeafs, staleLeafs                                      atomic.Int64
	stalls                                                     atomic.Int64
}

type listener struct {
	ln        transport.Listener
	spec      Listener // as configured (Addr may ask for port 0); guarded by Server.mu
	transport string
	scheme    string // of its client URLs: "nats", "ws", "wss", "quic"
	host      string
	port      int
	authSpec  atomic.Pointer[ListenerAuth] // spec.Auth, read without Server.mu
	auth      atomic.Pointer[listenerAuth] // authSpec compiled (listener_auth.go)
}

// setSpec sets l's configuration (caller holds Server.mu, or l is new).
func (l *listener) setSpec(spec Listener) {
	l.spec = spec
	l.authSpec.Store(spec.Auth)
}

// websocket reports whether l serves WebSocket clients, who get the
// WebSocket connect_urls and the listener's own TLS in INFO.
func (l *listener) websocket() bool { return l.scheme == "ws" || l.scheme == "wss" }

// schemeOf is the URL scheme of t's client URLs.
func schemeOf(t transport.Transport) string {
	if us, ok := t.(transport.URLScheme); ok {
		return us.Scheme()
	}
	if t.Name() == "tcp" {
		return "nats"
	}
	return t.Name()
}

// New checks opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	key := newServerKey()
	id, _ := key.PublicKey()
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Name != "" {
		// A named server's lines carry its name; an unnamed one's would
		// carry the 56-character id on every line (it is logged once, at
		// start).
		log = log.With(zap.String("server", opts.Name))
	} else {
		opts.Name = id
	}
	s := &Server{
		opts:    opts,
		key:     key,
		id:      id,
		log:     log,
		clients: make(map[uint64]*client),
		routes:  make(map[string]*route),
	}
	if opts.Cluster != nil {
		s.interest = newInterest()
	}
	s.initLeafNodes()
	s.configTime.Store(time.Now().UnixNano())
	s.info = baseInfo(id, opts.Name, opts.MaxPayload)
	s.info.AuthRequired = opts.Auth.Required()
	s.info.TLSRequired = opts.TLS != nil
	s.live.Store(&opts)
	st := compileAuth(opts.Auth)
	s.gacc = newAccount(GlobalAccount)
	s.accounts.Store(&accountSet{GlobalAccount: s.gacc})
	s.responses = newResponseMap()
	s.addAccountsLocked([]string{opts.Auth.systemAccount()})
	s.sysacc = s.account(opts.Auth.systemAccount())
	if st != nil {
		s.addAccountsLocked(st.accounts)
	}
	s.auth.Store(st)
	if op := st.operator(); op != nil {
		// The system account's JWT, when the resolver has it.
		if ac, err := op.account(s.sysacc.name); err == nil {
			s.registerClaims(ac)
		} else {
			s.log.Warn("system account JWT not resolved", zap.String("account", s.sysacc.name), zap.Error(err))
		}
	}
	s.refreshImports()
	s.refreshMappings()
	s.prepareCallout(opts.Auth)
	return s, nil
}

// newServerKey returns the server's identity as nats-server's: a server
// nkey, whose public key ('N' and 55 base32 characters) is the server id
// and which signs what the server issues (auth callout requests).
func newServerKey() nkeys.KeyPair {
	kp, err := nkeys.CreateServer()
	if err != nil {
		panic("server nkey: " + err.Error()) // only when crypto/rand fails
	}
	return kp
}

// o returns the options in force now (reload swaps them atomically).
func (s *Server) o() *Options { return s.live.Load() }

// ID is the server id sent in INFO.
func (s *Server) ID() string { return s.id }

// Name is the server name sent in INFO.
func (s *Server) Name() string { return s.opts.Name }

// Options returns the options the server runs with.
func (s *Server) Options() Options { return *s.o() }

// Mux is the global account's multiplexor (for tests and monitoring).
func (s *Server) Mux() *mux.Mux { return s.gacc.mux }

// Logger is the server's logger.
func (s *Server) Logger() *zap.Logger { return s.log }

// Start binds every listener and starts accepting. On error nothing is left
// listening.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("broker: already started")
	}
	lns, err := openListeners(s.o().clientListeners())
	if err != nil {
		return err
	}
	s.listeners = lns
	if cl := s.opts.Cluster; cl != nil {
		ln, err := cl.Listen.Transport.Listen(cl.Listen.Addr)
		if err != nil {
			for _, open := range s.listeners {
				open.ln.Close()
			}
			s.listeners = nil
			return fmt.Errorf("listen for routes on %s: %w", cl.Listen.Addr, err)
		}
		host, port := splitHostPort(ln.Addr())
		s.routeLn = &listener{ln: ln, transport: cl.Listen.Transport.Name(), host: host, port: port}
	}
	if err := s.startLeafNodes(); err != nil {
		for _, open := range s.listeners {
			open.ln.Close()
		}
		if s.routeLn != nil {
			s.routeLn.ln.Close()
		}
		return err
	}
	s.started = true
	s.start = time.Now()
	s.configTime.Store(s.start.UnixNano())
	if s.routeLn != nil {
		s.log.Info("listening for routes", zap.String("transport", s.routeLn.transport), zap.Stringer("addr", s.routeLn.ln.Addr()))
		s.wg.Add(1)
		go s.routeAcceptLoop(s.routeLn)
	}
	for _, l := range s.listeners {
		s.log.Info("listening for clients", zap.String("transport", l.transport), zap.Stringer("addr", l.ln.Addr()))
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	return nil
}

// clientListeners are the client listeners o asks for: Listeners, or one
// TCP listener on Host:Port.
func (o *Options) clientListeners() []Listener {
	if len(o.Listeners) > 0 {
		return o.Listeners
	}
	port := max(o.Port, 0) // -1: random
	return []Listener{{Transport: tcp.New(), Addr: net.JoinHostPort(o.Host, strconv.Itoa(port)), Advertise: o.ClientAdvertise}}
}

// maxClosed is how many closed connections the server remembers.
func (o *Options) maxClosed() int {
	switch {
	case o.MaxClosedClients == 0:
		return DefaultMaxClosedClients
	case o.MaxClosedClients < 0:
		return 0
	}
	return o.MaxClosedClients
}

// openListeners binds every spec; on error it closes what it opened.
func openListeners(specs []Listener) ([]*listener, error) {
	var out []*listener
	for _, l := range specs {
		ln, err := l.Transport.Listen(l.Addr)
		if err != nil {
			for _, open := range out {
				open.ln.Close()
			}
			return nil, fmt.Errorf("listen %s on %s: %w", l.Transport.Name(), l.Addr, err)
		}
		host, _, _ := net.SplitHostPort(l.Addr)
		_, port := splitHostPort(ln.Addr())
		nl := &listener{ln: ln, transport: l.Transport.Name(), scheme: schemeOf(l.Transport), host: host, port: port}
		nl.setSpec(l)
		out = append(out, nl)
	}
	return out, nil
}

// Addrs returns the bound address of each listener, by transport name.
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]net.Addr, len(s.listeners))
	for _, l := range s.listeners {
		m[l.transport] = l.ln.Addr()
	}
	return m
}

// ClientURL is "nats://host:port" of the first listener, for tests and logs.
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return ""
	}
	return "nats://" + s.listeners[0].ln.Addr().String()
}

// StartTime is when Start succeeded.
func (s *Server) StartTime() time.Time { return s.start }

// SystemAccount is the name of the system account ($SYS unless
// configured; an account public key in operator mode).
func (s *Server) SystemAccount() string { return s.sysacc.name }

// ConfigLoadTime is when the options in force were loaded: the start
// time, then the time of each successful Reload (/varz config_load_time).
func (s *Server) ConfigLoadTime() time.Time { return time.Unix(0, s.configTime.Load()) }

func (s *Server) acceptLoop(l *listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isShutdown() {
				return
			}
			// Temporary failure (e.g. out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept error", zap.String("transport", l.transport), zap.Error(err), zap.Duration("retry_in", delay))
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.accept(l, conn)
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// accept registers conn as a client and starts its goroutines.
func (s *Server) accept(l *listener, conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if s.leafOverWebSocket(conn) {
		return
	}
	cid := s.nextID.Add(1)
	c := newClient(s, cid, conn, l)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		conn.Close()
		return
	}
	full := len(s.clients) >= s.o().MaxConnections
	if !full {
		s.clients[cid] = c
	}
	s.mu.Unlock()
	s.stats.totalConns.Add(1)
	if full {
		info := s.infoFor(l, cid, conn.RemoteAddr(), nil)
		// As nats-server: INFO, then the error, then close; off the accept
		// loop, since a transport's Close may linger (QUIC).
		s.log.Warn("maximum connections exceeded", zap.Stringer("remote", conn.RemoteAddr()))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write(append(info, errLine(errMaxConns)...))
			conn.Close()
		}()
		return
	}
	s.wg.Add(1)
	go c.run()
}

func (s *Server) removeClient(c *client) {
	info := c.snapshot(true)
	s.mu.Lock()
	if s.clients[c.cid] == c {
		delete(s.clients, c.cid)
		s.retireLocked(&c.conn)
		s.leaveAccountLocked(c)
	}
	switch keep := s.opts.maxClosed(); {
	case keep == 0:
	case len(s.closed) < keep:
		s.closed = append(s.closed, info)
	default:
		s.closed[s.closedNext] = info
		s.closedNext = (s.closedNext + 1) % keep
	}
	s.mu.Unlock()
}

// localInterest tells the routes about a local subscription (a client's
// or the system responder's) added (+1) or removed (-1). Without
// clustering it does nothing.
func (s *Server) localInterest(acc *account, sub *mux.Sub, delta int) {
	if s.interest != nil {
		s.interest.changed(acc.name, sub, delta)
	}
	if li := s.leafs.interest; li != nil {
		li.local(acc.name, sub.Subject, sub.Queue, delta)
	}
}

// RouteAddr is the bound route listener address (nil without clustering).
func (s *Server) RouteAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.routeLn == nil {
		return nil
	}
	return s.routeLn.ln.Addr()
}

// SetConnectURLs sets the client URLs advertised in INFO connect_urls (the
// cluster layer lists this broker's and its routed peers'), and sends every connected client an updated INFO (as
// nats-server does when the cluster changes) so clients learn where to
// reconnect.
func (s *Server) SetConnectURLs(urls []string) {
	s.mu.Lock()
	s.connectURLs = append([]string(nil), urls...)
	clients := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	s.sendAsyncInfo(clients)
}

// SetWebSocketConnectURLs is SetConnectURLs for the WebSocket clients:
// the host:port of the cluster's WebSocket listeners, which INFO on a
// WebSocket listener carries in connect_urls (nats-server's
// ws_connect_urls), so a browser fails over to another broker.
func (s *Server) SetWebSocketConnectURLs(urls []string) {
	s.mu.Lock()
	s.wsConnectURLs = append([]string(nil), urls...)
	clients := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	s.sendAsyncInfo(clients)
}

// WebSocketConnectURLs are the WebSocket connect_urls in force now.
func (s *Server) WebSocketConnectURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wsConnectURLs)
}

// ConnectURLs are the client URLs (host:port) this broker advertises in
// INFO connect_urls now, as last set by SetConnectURLs; /varz reports them.
func (s *Server) ConnectURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.connectURLs)
}

// sendAsyncInfo sends each client the current INFO (connect_urls, ldm), as
// nats-server does when the cluster or the server's state changes. Clients
// still in their CONNECT/PING handshake are skipped: the INFO after their
// first PONG (connectInfoLine) carries the same state.
func (s *Server) sendAsyncInfo(clients []*client) {
	s.infoGen.Add(1) // before looking at infoReady (see client.Ping)
	for _, c := range clients {
		if c.infoReady.Load() {
			c.enqueue(s.infoFor(c.ln, c.cid, c.remote, nil))
		}
	}
}

// ClientURLs are the URLs clients reach this broker at, one per listener;
// an unspecified listen host (0.0.0.0, ::) is replaced by advertiseHost.
// With cluster no_advertise there are none: the cluster is not told.
func (s *Server) ClientURLs(advertiseHost string) []string {
	if cl := s.o().Cluster; cl != nil && cl.NoAdvertise {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var urls []string
	for _, l := range s.listeners {
		if a := l.spec.Advertise; a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil {
				a = net.JoinHostPort(a, strconv.Itoa(l.port)) // "host": the bound port
			}
			urls = append(urls, l.scheme+"://"+a)
			continue
		}
		host := l.host
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = advertiseHost
		}
		urls = append(urls, l.scheme+"://"+net.JoinHostPort(host, strconv.Itoa(l.port)))
	}
	return urls
}

// RouteObserver is how the server consults and informs the layer that
// manages its routes (package cluster). The server calls it without holding
// any of its locks, so its methods may call the server's methods; they
// must return quickly, since the route handshake or teardown that calls
// them waits for them.
type RouteObserver interface {
	// AdmitRoute approves the peer with server id peerID during a route
	// handshake, inbound or dialed, once the handshake's own checks passed
	// (cluster name, the credential on the accepting end, no duplicate);
	// false refuses the route (the peer is told it is not a member). It is called on the handshake's goroutine: the
	// route listener's per-connection goroutine, or the goroutine calling
	// ConnectRoute, before ConnectRoute returns.
	AdmitRoute(peerID string) bool
	// RouteChanged hears of a route to peerID going up (once registered,
	// on the handshake's goroutine, which may be the ConnectRoute caller's)
	// or down (once unregistered, on the route's own goroutine; for every
	// route during Close, before Close returns). Take it as a hint to
	// re-read RouteIDs, not as state: when crossing dials settle, the
	// replaced route's down may come after the new route's up, while a
	// route to that peer is up.
	RouteChanged(peerID string, up bool)
}

// SetRouteObserver installs o (nil: none, every peer that passes the
// handshake is admitted). Set it before routes exist: a handshake or
// teardown already under way may still see the previous observer.
func (s *Server) SetRouteObserver(o RouteObserver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o == nil {
		s.routeEvents, s.routeAdmission = nil, nil
		return
	}
	s.routeEvents, s.routeAdmission = o.RouteChanged, o.AdmitRoute
}

// RouteIDs returns the server ids of the peers with a live route.
func (s *Server) RouteIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.routes))
}

// NumClients is the number of open client connections.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Close stops accepting, closes every connection and returns once every
// goroutine the server started has exited.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.shutdown = true
	defer s.stopCallouts()
	defer s.stopAccountExpiries()
	lns := append([]*listener(nil), s.listeners...)
	if s.routeLn != nil {
		lns = append(lns, s.routeLn)
	}
	var conns []*conn
	for _, c := range s.clients {
		conns = append(conns, &c.conn)
	}
	for _, r := range s.routes {
		conns = append(conns, &r.conn)
	}
	conns = append(conns, s.stopLeafNodesLocked()...)
	s.mu.Unlock()
	for _, l := range lns {
		l.ln.Close()
	}
	for _, c := range conns {
		c.close(ServerShutdown)
	}
	s.wg.Wait()
	s.log.Info("server stopped")
	return nil
}
