package broker

import (
	"strconv"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// Route protocol handlers (proto.RouteHandler), run on the route's reader.

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

func remoteKey(acc, subject, queue []byte) string {
	return string(acc) + " " + string(subject) + " " + string(queue)
}

// remoteSub is one entry of the peer's interest: the route-owned
// subscription and the account whose index holds it.
type remoteSub struct {
	sub *mux.Sub
	acc *account
}

// routeAccount returns the account a route op names, or nil when this
// broker has no such account: the brokers' account configurations
// differ, which is logged once per account and route (the op is ignored:
// interest and messages never cross into another account).
func (c *route) routeAccount(name []byte) *account {
	if a := c.lastAcc; a != nil && a.name == string(name) {
		return a
	}
	a := c.srv.account(string(name))
	if a == nil {
		if c.unknownAccs == nil {
			c.unknownAccs = map[string]bool{}
		}
		if !c.unknownAccs[string(name)] {
			c.unknownAccs[string(name)] = true
			c.log.Error("route names an account this broker does not have: the brokers' account configurations differ",
				zap.ByteString("account", name))
		}
		return nil
	}
	c.lastAcc = a
	return a
}

func (c *route) RemoteSub(accName, subject, queue []byte, weight int) error {
	acc := c.routeAccount(accName)
	if acc == nil {
		return nil
	}
	key := remoteKey(accName, subject, queue)
	s := &mux.Sub{Subject: string(subject), Queue: string(queue), Owner: c, Weight: weight}
	c.subsMu.Lock()
	old, had := c.subs[key]
	c.subs[key] = remoteSub{s, acc}
	c.subsMu.Unlock()
	// Insert the new entry before removing the old, so a queue group never
	// vanishes between the two.
	if err := acc.mux.Subscribe(s); err != nil {
		c.log.Info("invalid remote subject", zap.ByteString("subject", subject))
		c.subsMu.Lock()
		if c.subs[key].sub == s {
			delete(c.subs, key)
		}
		c.subsMu.Unlock()
	} else if li := c.srv.leafs.interest; li != nil {
		// The leaf connections here see the cluster's interest.
		li.remote(acc.name, s.Subject, s.Queue, c, max(weight, 1))
	}
	if had {
		old.acc.mux.Unsubscribe(old.sub)
	}
	return nil
}

func (c *route) RemoteUnsub(accName, subject, queue []byte) error {
	key := remoteKey(accName, subject, queue)
	c.subsMu.Lock()
	rs, ok := c.subs[key]
	delete(c.subs, key)
	c.subsMu.Unlock()
	if ok {
		rs.acc.mux.Unsubscribe(rs.sub)
		if li := c.srv.leafs.interest; li != nil {
			li.remote(rs.acc.name, rs.sub.Subject, rs.sub.Queue, c, 0)
		}
	}
	return nil
}

// RoutedMsg delivers a message from a peer to the local subscribers of its
// account only.
func (c *route) RoutedMsg(accName, subject, reply []byte, queues [][]byte, hdrLen int, msg []byte) error {
	c.countIn(len(msg))
	acc := c.routeAccount(accName)
	if acc == nil {
		return nil
	}
	m := &c.msg
	m.Subject, m.Reply, m.Queues, m.Account = subject, reply, queues, acc.name
	unmatchRouted(m, subject, reply) // a JetStream delivery (route_match.go)
	if hdrLen >= 0 {
		m.Header, m.Payload = msg[:hdrLen], msg[hdrLen:]
	} else {
		m.Header, m.Payload = nil, msg
	}
	acc.mux.Publish(c, m, &c.batch)
	return nil
}

// DeliverRouted implements mux.RouteConn: one RMSG (or HMSG) carrying the
// queue groups this broker picked the peer for.
func (c *route) DeliverRouted(m *mux.Msg, queues []string) (needFlush, ok bool) {
	if m.Match != nil {
		m = matchOverRoute(m) // route_match.go
	}
	size := m.Size()
	c.mu.Lock()
	if !c.admitLocked(size) {
		c.mu.Unlock()
		return false, false
	}
	o := &c.out
	n := len(m.Account) + len(m.Subject) + len(m.Reply) + size + 48
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
	b = append(b, m.Account...)
	b = append(b, ' ')
	b = append(b, m.Subject...)
	b = append(b, ' ')
	b = appendPicks(b, m.Reply, queues)
	if m.Header != nil {
		b = strconv.AppendInt(b, int64(len(m.Header)), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(m.Size()), 10)
	return append(b, crlf...)
}

// appendPicks writes the reply and queue fields of an RMSG or LMSG line
// (docs/routes.md): "+ <reply> <q>... ", "| <q>... ", "<reply> " or nothing.
func appendPicks(b, reply []byte, queues []string) []byte {
	switch {
	case len(queues) > 0 && len(reply) > 0:
		b = append(b, "+ "...)
		b = append(b, reply...)
		b = append(b, ' ')
	case len(queues) > 0:
		b = append(b, "| "...)
	case len(reply) > 0:
		b = append(b, reply...)
		b = append(b, ' ')
	}
	for _, q := range queues {
		b = append(b, q...)
		b = append(b, ' ')
	}
	return b
}
