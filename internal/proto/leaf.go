package proto

// The leafnode protocol runs between a leaf broker and its hub (see
// docs/leafnodes.md). It is the route protocol without the account field
// (a leaf connection is bound to one account at CONNECT):
//
//	INFO {json} / CONNECT {json}            handshake; INFO again at any time
//	LS+ <subject> [<queue> <weight>]        interest added (or queue weight changed)
//	LS- <subject> [<queue>]                 interest removed
//	LMSG <subject> [reply] <size>           a message, plain interest only
//	LMSG <subject> + <reply> <q>... <size>  a message with reply and queue picks
//	LMSG <subject> | <q>... <size>          a message with queue picks, no reply
//	HMSG ... <hdr size> <total size>        the same with a header block
//	PING / PONG / +OK / -ERR '<text>'
//
// As nats-server's parser does on a leaf connection, RS+ and RS- are taken
// as LS+ and LS-.

// LeafHandler receives parsed leafnode ops. Slices are valid only during
// the call.
type LeafHandler interface {
	LeafInfo(arg []byte) error
	LeafConnect(arg []byte) error
	LeafSub(subject, queue []byte, weight int) error
	LeafUnsub(subject, queue []byte) error
	// LeafMsg carries hdrLen < 0 for LMSG; queues names the queue groups
	// the sender picked this connection for.
	LeafMsg(subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error
	Ping() error
	Pong() error
	OK() error
	Err(arg []byte) error
}

// LeafParser parses the leafnode protocol. Like the route parser it closes
// the connection (returns ErrRouteProtocol) on any malformed op.
type LeafParser struct {
	// MaxControlLine and MaxPayload bound lines and messages (0: 64 KiB and
	// 64 MiB).
	MaxControlLine int
	MaxPayload     int

	p RouteParser
	a leafAdapter
}

// Parse consumes buf, calling h for each complete op.
func (lp *LeafParser) Parse(buf []byte, h LeafHandler) error {
	lp.p.leaf = true
	lp.p.MaxControlLine, lp.p.MaxPayload = lp.MaxControlLine, lp.MaxPayload
	lp.a.h = h
	return lp.p.Parse(buf, &lp.a)
}

// leafAdapter turns route callbacks (with a nil account) into leaf ones.
type leafAdapter struct{ h LeafHandler }

func (a *leafAdapter) RouteInfo(arg []byte) error    { return a.h.LeafInfo(arg) }
func (a *leafAdapter) RouteConnect(arg []byte) error { return a.h.LeafConnect(arg) }
func (a *leafAdapter) RemoteSub(_, subject, queue []byte, weight int) error {
	return a.h.LeafSub(subject, queue, weight)
}
func (a *leafAdapter) RemoteUnsub(_, subject, queue []byte) error {
	return a.h.LeafUnsub(subject, queue)
}
func (a *leafAdapter) RoutedMsg(_, subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error {
	return a.h.LeafMsg(subject, reply, queues, hdrLen, msg)
}
func (a *leafAdapter) Ping() error          { return a.h.Ping() }
func (a *leafAdapter) Pong() error          { return a.h.Pong() }
func (a *leafAdapter) OK() error            { return a.h.OK() }
func (a *leafAdapter) Err(arg []byte) error { return a.h.Err(arg) }
