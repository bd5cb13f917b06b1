package broker

import (
	"net"
	"net/url"
	"sync"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
)

// leaf is a leaf node connection: the connection core (conn) speaking the
// leafnode protocol (internal/proto LeafParser, docs/leafnodes.md). It is
// bound to one account at the handshake; it holds the peer's interest as
// subscriptions it owns in that account's index, keyed by "subject" or
// "subject queue", and gets each message at most once (mux.LeafConn).
//
// toHub: this broker dialed the peer, which is its hub (this broker is
// the spoke). Otherwise the peer dialed this broker's leaf node listener.
type leaf struct {
	conn
	toHub   bool
	acc     *account
	peer    leafPeer
	headers bool        // the peer takes HMSG
	plain   bool        // over TCP (not WebSocket or QUIC): leafnodes.tls applies
	comp    *leafComp   // its compression (leaf_compress.go)
	remote  *leafRemote // the remote this connection is for (toHub only)
	via     *url.URL    // the URL it was dialed with (toHub only)

	// permOut is what may go to the peer, permIn what is taken from it:
	// the leaf user's permissions and the remote's deny rules
	// (leaf_perms.go). Set at the handshake, read-only after.
	permOut, permIn leafFilter
	resp            *ResponsePermission // the hub's leaf user's allow_responses (nil: none)
	replies         replyPerms          // the replies it may send under resp
	user            string              // the user the leaf logged in as, on the hub ("": none)
	login           *leafLogin          // its login, kept to check again after a reload (hub only; leaf_reload.go)
	// isolated: the other leaf connections' interest is not sent to this
	// one (leaf_interest.go).
	isolated bool

	// Reader-owned.
	parser proto.LeafParser

	subsMu sync.Mutex
	subs   map[string]*mux.Sub // the peer's interest, by "subject[ queue]"

	// smap is what the peer was told of this broker's interest; guarded
	// by the server's leafInterest.mu.
	smap map[string]int
	lds  string // its loop detection subject (guarded as smap)

	done chan struct{} // closed when the connection is gone (leafDown)
}

// leafPeer is what the handshake learned of the other broker.
type leafPeer struct {
	ID, Name, Version, Cluster string
	// Account is the account the peer binds the connection to on its side
	// (the hub's remote_account, or the leaf's CONNECT remote_account).
	Account string
}

func newLeaf(s *Server, cid uint64, nc net.Conn, acc *account, toHub bool) *leaf {
	l := &leaf{toHub: toHub, acc: acc, subs: map[string]*mux.Sub{}, smap: map[string]int{}}
	l.init(s, cid, nc, leafTransport(nc), l)
	o := s.o()
	l.parser.MaxControlLine, l.parser.MaxPayload = max(o.MaxControlLine, 4096), o.MaxPayload
	return l
}

// exports reports whether interest in subject may be told to the peer:
// not when nothing it would bring may be taken in (l.permIn: the hub's leaf
// user's publish rules; a leaf's deny_imports and its hub's import).
func (l *leaf) exports(subject string) bool {
	return !l.permIn.active() || l.permIn.interest(subject) || hasAnyPrefix(subject, leafExemptInterest[:])
}

// protocol implementation.

func (l *leaf) parse(b []byte) error { return l.parser.Parse(b, l) }
func (l *leaf) reloaded(o *Options) {
	l.parser.MaxPayload = o.MaxPayload
}

// closed drops the peer's interest and unregisters the connection.
func (l *leaf) closed() {
	s := l.srv
	s.leafs.interest.removeLeaf(l)
	l.subsMu.Lock()
	subs := l.subs
	l.subs = map[string]*mux.Sub{}
	l.subsMu.Unlock()
	for _, sub := range subs {
		l.dropSub(sub)
	}
	s.leafDown(l)
}

// mux.Conn implementation (DeliverRouted is in leaf_proto.go, Flush in
// conn_out.go).

func (l *leaf) Kind() mux.Kind   { return mux.Leaf }
func (l *leaf) NoEcho() bool     { return false }
func (l *leaf) Expired(*mux.Sub) {}
func (l *leaf) ToHub() bool      { return l.toHub }

// Deliver is never called for a leaf connection: the multiplexor sends
// it each message once, with DeliverRouted.
func (l *leaf) Deliver(*mux.Sub, *mux.Msg) (needFlush, ok bool) { return false, false }

func (l *leaf) numSubs() int {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	return len(l.subs)
}

// subjects lists the subjects of the peer's interest, for /leafz?subs=1
// (as nats-server's subscriptions_list: one per entry, no queue names).
func (l *leaf) subjects() []string {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	out := make([]string, 0, len(l.subs))
	for _, s := range l.subs {
		out = append(out, s.Subject)
	}
	return out
}

// weightOf is how many members a leaf-owned subscription stands for.
func weightOf(s *mux.Sub) int {
	if s.Queue == "" {
		return 1
	}
	return max(s.Weight, 1)
}

// addSub records the peer's interest: in the account's index, in what the
// other leaf connections are told, and (for a leaf connected here) in the
// routes' interest, as a client's subscription would be.
func (l *leaf) addSub(s *mux.Sub, old *mux.Sub) {
	acc := l.acc
	delta := weightOf(s)
	if old != nil {
		delta -= weightOf(old)
	}
	if !l.toHub && l.srv.interest != nil && delta != 0 {
		switch {
		case s.Queue != "":
			l.srv.interest.changed(acc.name, s, delta)
		case old == nil:
			l.srv.interest.changed(acc.name, s, +1)
		}
	}
	l.srv.leafs.interest.remote(acc.name, s.Subject, s.Queue, l, weightOf(s))
}

// dropSub removes one entry of the peer's interest.
func (l *leaf) dropSub(s *mux.Sub) {
	acc := l.acc
	acc.mux.Unsubscribe(s)
	if !l.toHub && l.srv.interest != nil {
		l.srv.interest.changed(acc.name, s, -weightOf(s))
	}
	l.srv.leafs.interest.remote(acc.name, s.Subject, s.Queue, l, 0)
}

// leafLog names the peer in a connection's log lines.
func leafLog(s *Server, nc net.Conn, p leafPeer, toHub bool) *zap.Logger {
	role := "leaf"
	if toHub {
		role = "hub"
	}
	return s.log.With(zap.String(role, p.Name), zap.Stringer("remote", nc.RemoteAddr()))
}
