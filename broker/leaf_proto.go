package broker

import (
	"encoding/json"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// Leafnode protocol handlers (proto.LeafHandler), run on the connection's
// reader after the handshake (leaf_handshake.go).

// LeafInfo takes an INFO after the handshake: a hub sends one when its
// cluster's leaf URLs change, which a leaf adds to the URLs it dials.
func (l *leaf) LeafInfo(arg []byte) error {
	if l.remote == nil {
		return nil
	}
	var info leafInfo
	if err := json.Unmarshal(arg, &info); err == nil && (len(info.LeafNodeURLs) > 0 || len(info.LeafNodeQUICURLs) > 0) {
		l.remote.learn(info.LeafNodeURLs, info.LeafNodeQUICURLs, l.via)
	}
	return nil
}

// LeafConnect after the handshake is a protocol violation.
func (l *leaf) LeafConnect([]byte) error {
	return &closeError{text: "Protocol Violation: CONNECT after the handshake"}
}

func (l *leaf) OK() error            { return nil }
func (l *leaf) Err(arg []byte) error { return l.leafErr(arg) }

func (l *leaf) Ping() error {
	l.enqueue(pongLine)
	return nil
}

func (l *leaf) Pong() error {
	l.pong()
	l.autoCompress()
	return nil
}

// errLeafLoop is nats-server's -ERR text for a loop (handleLeafNodeLoop).
func errLeafLoop(acc string) string {
	return fmt.Sprintf("Loop detected for leafnode account=%q. Delaying attempt to reconnect for %v", acc, leafLoopReconnectDelay)
}

// LeafSub takes the peer's interest in a subject or queue group (LS+;
// a queue group's again on every change of its weight).
func (l *leaf) LeafSub(subject, queue []byte, weight int) error {
	subj := string(subject)
	if ok, err := l.takeInterest(subj); !ok {
		return err
	}
	if owner := l.srv.leafs.interest.ldsOwner(l.acc.name, subj); owner != nil {
		// Our own loop detection subject came back: the leaf topology
		// has a cycle. As nats-server, tell the peer and close; a
		// dialing side waits before it redials.
		if owner != l && l.toHub && owner.toHub && l.cid < owner.cid {
			// Two of this broker's dials reach one hub cluster: the
			// newer one closes (it sees this one's subject too), so one
			// connection stays up. The subject goes no further.
			return nil
		}
		l.log.Error("leaf node loop detected", zap.String("account", l.acc.name))
		if l.remote != nil {
			l.remote.delayNext(leafLoopReconnectDelay)
		}
		return &closeError{text: errLeafLoop(l.acc.name)}
	}
	if len(queue) == 0 {
		weight = 0
	}
	key := leafSmapKey(subj, string(queue))
	s := &mux.Sub{Subject: subj, Queue: string(queue), Owner: l, Weight: weight}
	l.subsMu.Lock()
	old := l.subs[key]
	if old != nil && queue == nil {
		l.subsMu.Unlock()
		return nil // a repeat
	}
	l.subs[key] = s
	l.subsMu.Unlock()
	// The new entry goes in before the old comes out, so a queue group
	// never vanishes in between.
	if err := l.acc.mux.Subscribe(s); err != nil {
		l.log.Info("invalid leaf subject", zap.ByteString("subject", subject))
		l.subsMu.Lock()
		if l.subs[key] == s {
			delete(l.subs, key)
		}
		l.subsMu.Unlock()
		return nil
	}
	if old != nil {
		l.acc.mux.Unsubscribe(old)
	}
	l.addSub(s, old)
	return nil
}

// LeafUnsub takes the end of the peer's interest (LS-).
func (l *leaf) LeafUnsub(subject, queue []byte) error {
	key := leafSmapKey(string(subject), string(queue))
	l.subsMu.Lock()
	s := l.subs[key]
	delete(l.subs, key)
	l.subsMu.Unlock()
	if s != nil {
		l.dropSub(s)
	}
	return nil
}

// LeafMsg publishes a message from the peer in the connection's account:
// to local clients, routes (when the peer is a leaf of ours) and the other
// leaf connections, by the rules of mux.LeafConn.
func (l *leaf) LeafMsg(subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error {
	l.countIn(len(msg))
	if ok, err := l.takeMsg(subject); !ok {
		return err
	}
	m := &l.msg
	m.Subject, m.Reply, m.Queues, m.Account = subject, reply, queues, l.acc.name
	if hdrLen >= 0 {
		m.Header, m.Payload = msg[:hdrLen], msg[hdrLen:]
	} else {
		m.Header, m.Payload = nil, msg
	}
	l.acc.mux.Publish(l, m, &l.batch)
	return nil
}

// DeliverRouted implements mux.RouteConn: one LMSG (or HMSG) carrying the
// queue groups this broker picked the peer for.
func (l *leaf) DeliverRouted(m *mux.Msg, queues []string) (needFlush, ok bool) {
	if !l.sends(m.Subject, m.Reply) {
		return false, false
	}
	hdr := m.Header
	if !l.headers {
		hdr = nil // a peer without headers gets the payload alone, as nats-server does
	}
	size := len(hdr) + len(m.Payload)
	l.mu.Lock()
	if !l.admitLocked(size) {
		l.mu.Unlock()
		return false, false
	}
	o := &l.out
	n := len(m.Subject) + len(m.Reply) + size + 40
	for _, q := range queues {
		n += len(q) + 1
	}
	if b := o.tail(n); b != nil {
		b = appendLeafLine(b, m, hdr, queues)
		b = append(b, hdr...)
		b = append(b, m.Payload...)
		o.setTail(append(b, crlf...))
	} else {
		o.write(appendLeafLine(nil, m, hdr, queues))
		o.write(hdr)
		o.write(m.Payload)
		o.write(crlf)
	}
	return l.appendedLocked(size), true
}

// appendLeafLine writes the LMSG/HMSG control line for m with header
// block hdr (nil: none).
func appendLeafLine(b []byte, m *mux.Msg, hdr []byte, queues []string) []byte {
	if hdr != nil {
		b = append(b, "HMSG "...)
	} else {
		b = append(b, "LMSG "...)
	}
	b = append(b, m.Subject...)
	b = append(b, ' ')
	b = appendPicks(b, m.Reply, queues)
	if hdr != nil {
		b = strconv.AppendInt(b, int64(len(hdr)), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(len(hdr)+len(m.Payload)), 10)
	return append(b, crlf...)
}
