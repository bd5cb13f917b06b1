package proto

import (
	"bytes"
	"errors"
)

// The route protocol runs between brokers of one cluster (see docs/routes.md).
// Its ops, all upper case:
//
//	INFO {json} / CONNECT {json}          handshake; INFO {"routes":[...]} after it (implicit routes)
//	RS+ <acc> <subject> [<queue> <weight>]      interest added (or queue weight changed)
//	RS- <acc> <subject> [<queue>]               interest removed
//	RMSG <acc> <subject> [reply] <size>         a message, plain interest only
//	RMSG <acc> <subject> + <reply> <q>... <size> a message with reply and queue picks
//	RMSG <acc> <subject> | <q>... <size>        a message with queue picks, no reply
//	HMSG ... <hdr size> <total size>            the same with a header block
//
// <acc> is the account the interest or message belongs to ($G, the global
// account, when there are no accounts).
//	PING / PONG / +OK / -ERR '<text>'

// RouteHandler receives parsed route ops. Slices are valid only during the
// call.
type RouteHandler interface {
	RouteInfo(arg []byte) error
	RouteConnect(arg []byte) error
	RemoteSub(acc, subject, queue []byte, weight int) error
	RemoteUnsub(acc, subject, queue []byte) error
	// RoutedMsg carries hdrLen < 0 for RMSG; queues names the queue groups
	// the sender picked this broker for.
	RoutedMsg(acc, subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error
	Ping() error
	Pong() error
	OK() error
	Err(arg []byte) error
}

// ErrRouteProtocol is any malformed route op; the route is closed.
var ErrRouteProtocol = errors.New("route protocol violation")

// maxRouteFields bounds the fields of one RMSG line (subject, markers,
// reply, queue names, sizes).
const maxRouteFields = 64

// RouteParser parses the route protocol. Routes are peers that passed the
// handshake, so any malformed input simply closes the route.
type RouteParser struct {
	// MaxControlLine and MaxPayload bound lines and messages (0: 64 KiB and
	// 64 MiB).
	MaxControlLine int
	MaxPayload     int

	// leaf: the leafnode dialect (leaf.go): LS+/LS-/LMSG, no account
	// field (the account is the connection's); handlers get a nil acc.
	leaf bool

	carry   []byte
	payload bool // waiting for a message body
	size    int
	hdr     int
	acc     []byte
	subj    []byte
	reply   []byte
	queues  [][]byte
	fields  [maxRouteFields][]byte
}

// Parse consumes buf, calling h for each complete op.
func (p *RouteParser) Parse(buf []byte, h RouteHandler) error {
	maxLine, maxPayload := p.MaxControlLine, p.MaxPayload
	if maxLine <= 0 {
		maxLine = 64 * 1024
	}
	if maxPayload <= 0 {
		maxPayload = 64 << 20
	}
	for len(buf) > 0 {
		if p.payload {
			need := p.size + 2
			if len(p.carry) == 0 && len(buf) >= need {
				if err := p.deliver(buf[:need], h); err != nil {
					return err
				}
				buf = buf[need:]
				continue
			}
			n := min(need-len(p.carry), len(buf))
			p.carry = append(p.carry, buf[:n]...)
			buf = buf[n:]
			if len(p.carry) < need {
				return nil
			}
			if err := p.deliver(p.carry, h); err != nil {
				return err
			}
			p.carry = p.carry[:0]
			continue
		}
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(p.carry)+len(buf) > maxLine {
				return ErrMaxControlLine
			}
			p.carry = append(p.carry, buf...)
			return nil
		}
		line := buf[:i]
		buf = buf[i+1:]
		if len(p.carry) > 0 {
			p.carry = append(p.carry, line...)
			line = p.carry
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > maxLine {
			return ErrMaxControlLine
		}
		if err := p.op(line, h, maxPayload); err != nil {
			return err
		}
		if p.payload {
			if need := p.size + 2; len(buf) >= need {
				// Body already here: args in buf or carry are still valid.
				err := p.deliver(buf[:need], h)
				buf = buf[need:]
				p.carry = p.carry[:0]
				if err != nil {
					return err
				}
				continue
			}
			// Args may point into carry or buf; keep copies that survive.
			p.stash()
		} else {
			p.carry = p.carry[:0]
		}
	}
	return nil
}

// stash copies the pending message's subject, reply and queue names into
// storage of their own, leaving carry free for the body.
func (p *RouteParser) stash() {
	n := len(p.acc) + len(p.subj) + len(p.reply)
	for _, q := range p.queues {
		n += len(q)
	}
	store := make([]byte, 0, n)
	store = append(store, p.acc...)
	p.acc = store[:len(p.acc):len(p.acc)]
	off := len(store)
	store = append(store, p.subj...)
	p.subj = store[off:len(store):len(store)]
	off = len(store)
	store = append(store, p.reply...)
	p.reply = store[off:len(store):len(store)]
	qs := make([][]byte, len(p.queues))
	for i, q := range p.queues {
		off = len(store)
		store = append(store, q...)
		qs[i] = store[off:len(store):len(store)]
	}
	p.queues = qs
	p.carry = p.carry[:0]
}

func (p *RouteParser) deliver(msg []byte, h RouteHandler) error {
	if msg[p.size] != '\r' || msg[p.size+1] != '\n' {
		return ErrRouteProtocol
	}
	p.payload = false
	acc, subj, reply, queues := p.acc, p.subj, p.reply, p.queues
	p.acc, p.subj, p.reply, p.queues = nil, nil, nil, nil
	return h.RoutedMsg(acc, subj, reply, queues, p.hdr, msg[:p.size])
}

// split cuts line into fields. In the leaf dialect the first field is a
// nil account, so the op handlers read the same positions as for routes.
func (p *RouteParser) split(line []byte) [][]byte {
	f := p.fields[:0]
	if p.leaf {
		f = append(f, nil)
	}
	for len(line) > 0 {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexAny(line, " \t")
		if i < 0 {
			i = len(line)
		}
		if len(f) == cap(f) {
			return nil
		}
		f = append(f, line[:i])
		line = line[i:]
	}
	return f
}

func (p *RouteParser) op(line []byte, h RouteHandler, maxPayload int) error {
	word, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(word) {
	case "PING":
		return h.Ping()
	case "PONG":
		return h.Pong()
	case "+OK":
		return h.OK()
	case "-ERR":
		return h.Err(rest)
	case "INFO":
		return h.RouteInfo(rest)
	case "CONNECT":
		return h.RouteConnect(rest)
	}
	f := p.split(rest)
	if p.leaf {
		// nats-server's leaf connections take RS+/RS- as LS+/LS-.
		switch string(word) {
		case "LS+":
			word = []byte("RS+")
		case "LS-":
			word = []byte("RS-")
		case "LMSG":
			word = []byte("RMSG")
		case "RMSG":
			return ErrRouteProtocol
		}
	}
	switch string(word) {
	case "RS+":
		switch len(f) {
		case 2:
			return h.RemoteSub(f[0], f[1], nil, 0)
		case 4:
			w := ParseSize(f[3])
			if w < 1 {
				return ErrRouteProtocol
			}
			return h.RemoteSub(f[0], f[1], f[2], w)
		}
	case "RS-":
		switch len(f) {
		case 2:
			return h.RemoteUnsub(f[0], f[1], nil)
		case 3:
			return h.RemoteUnsub(f[0], f[1], f[2])
		}
	case "RMSG", "HMSG":
		return p.msgArgs(f, word[0] == 'H', maxPayload)
	}
	return ErrRouteProtocol
}

// msgArgs parses RMSG/HMSG fields and arms the parser for the body.
func (p *RouteParser) msgArgs(f [][]byte, withHdr bool, maxPayload int) error {
	sizes := 1
	if withHdr {
		sizes = 2
	}
	if len(f) < 2+sizes {
		return ErrRouteProtocol
	}
	p.acc, p.subj = f[0], f[1]
	mid := f[2 : len(f)-sizes]
	p.reply, p.queues = nil, nil
	switch {
	case len(mid) == 0:
	case string(mid[0]) == "+" && len(mid) >= 2:
		p.reply, p.queues = mid[1], mid[2:]
	case string(mid[0]) == "|" && len(mid) >= 2:
		p.queues = mid[1:]
	case len(mid) == 1:
		p.reply = mid[0]
	default:
		return ErrRouteProtocol
	}
	p.hdr = -1
	if withHdr {
		p.hdr = ParseSize(f[len(f)-2])
	}
	p.size = ParseSize(f[len(f)-1])
	if p.size < 0 || (withHdr && (p.hdr < 0 || p.hdr > p.size)) {
		return ErrRouteProtocol
	}
	if p.size > maxPayload {
		return ErrMaxPayload
	}
	p.payload = true
	return nil
}
