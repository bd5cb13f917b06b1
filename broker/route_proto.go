package broker

import (
	"strconv"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// Route protocol handlers (proto.RouteHandler), run on the route's reader.

func (c *route) RouteInfo([]byte) error    { return nil }
func (c *route) RouteConnect([]byte) error { return nil }
func (c *route) OK() error                 { return nil }
func (c *route) Err(arg []byte) error      { return c.peerErr(arg) }

func (c *route) Ping() error {
	c.enqueue(pongLine)
	return nil
}

func (c *route) Pong() error {
	c.pong()
	return nil
}

func remoteKey(subject, queue []byte) string {
	return string(subject) + " " + string(queue)
}

func (c *route) RemoteSub(subject, queue []byte, weight int) error {
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

func (c *route) RemoteUnsub(subject, queue []byte) error {
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
func (c *route) RoutedMsg(subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error {
	c.countIn(len(msg))
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
func (c *route) DeliverRouted(m *mux.Msg, queues []string) (needFlush, ok bool) {
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
