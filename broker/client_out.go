package broker

import (
	"strconv"
	"time"

	"github.com/murmurmq/murmur/mux"
)

// The client protocol's outbound messages: MSG/HMSG lines and the 503
// no-responders status. The queue they go into is the core's (conn_out.go).

// Deliver implements mux.Conn: it appends MSG (or HMSG) for sub to the
// outbound buffer.
func (c *client) Deliver(sub *mux.Sub, m *mux.Msg) (needFlush, ok bool) {
	hdr := m.Header
	if hdr != nil && !c.headers.Load() {
		hdr = nil // a client that did not ask for headers gets the payload only
	}
	size := len(hdr) + len(m.Payload)
	if len(m.Reply) > 0 {
		if p := c.perms.Load(); p != nil && p.resp != nil {
			c.replies.grant(m.Reply, time.Now(), p.resp)
		}
	}
	c.mu.Lock()
	if !c.admitLocked(size) {
		c.mu.Unlock()
		return false, false
	}
	o := &c.out
	if b := o.tail(len(m.Subject) + len(sub.SID) + len(m.Reply) + size + 48); b != nil {
		b = appendMsgLine(b, sub.SID, m.Subject, m.Reply, len(hdr), size, hdr != nil)
		b = append(b, hdr...)
		b = append(b, m.Payload...)
		o.setTail(append(b, crlf...))
	} else {
		var line [256]byte
		o.write(appendMsgLine(line[:0], sub.SID, m.Subject, m.Reply, len(hdr), size, hdr != nil))
		o.write(hdr)
		o.write(m.Payload)
		o.write(crlf)
	}
	needFlush = c.appendedLocked(size)
	if c.trace {
		c.traceDeliver(sub, m, hdr)
	}
	return needFlush, true
}

// appendMsgLine writes the control line `MSG <subject> <sid> [reply]
// <size>` or `HMSG <subject> <sid> [reply] <hdr size> <total size>`.
func appendMsgLine(b, sid, subject, reply []byte, hdrLen, size int, withHdr bool) []byte {
	if withHdr {
		b = append(b, "HMSG "...)
	} else {
		b = append(b, "MSG "...)
	}
	b = append(b, subject...)
	b = append(b, ' ')
	b = append(b, sid...)
	b = append(b, ' ')
	if len(reply) > 0 {
		b = append(b, reply...)
		b = append(b, ' ')
	}
	if withHdr {
		b = strconv.AppendInt(b, int64(hdrLen), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(size), 10)
	return append(b, crlf...)
}

// enqueueNoResponders writes the 503 status message nats-server sends to a
// requester when nobody received its request.
func (c *client) enqueueNoResponders(sub *mux.Sub, subject, reply []byte) {
	hdr := make([]byte, 0, 32+len(subject))
	hdr = append(hdr, "NATS/1.0 503\r\nNats-Subject: "...)
	hdr = append(hdr, subject...)
	hdr = append(hdr, "\r\n\r\n"...)
	line := appendMsgLine(nil, sub.SID, reply, nil, len(hdr), len(hdr), true)
	if c.trace {
		c.traceOutLine(line)
		c.tracePayload("->>", hdr, len(hdr))
	}
	c.mu.Lock()
	if c.admitLocked(len(line) + len(hdr) + len(crlf)) {
		c.out.write(line)
		c.out.write(hdr)
		c.out.write(crlf)
		c.out.flushPending = true
	}
	c.mu.Unlock()
	c.wakeWriter()
}
