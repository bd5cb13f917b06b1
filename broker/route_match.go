package broker

import (
	"bytes"

	"github.com/murmurmq/murmur/mux"
)

// A JetStream delivery is matched on one subject (a pull request's inbox,
// a push consumer's deliver subject) and seen under another (the stored
// message's). RMSG carries one subject, so, as nats-server does, the
// route message names the matched subject and appends "@<subject>" to
// the $JS.ACK reply; the receiving broker splits them again and delivers
// to its local subscribers of the matched subject under the stored one
// (docs/routes.md, "JetStream deliveries").

// matchOverRoute returns m as it crosses a route: subject the matched
// one, reply "<reply>@<subject>". mux.Msg.RoutesMatch admitted it.
func matchOverRoute(m *mux.Msg) *mux.Msg {
	r := *m
	r.Subject = m.Match
	r.Reply = append(append(append(make([]byte, 0, len(m.Reply)+1+len(m.Subject)), m.Reply...), '@'), m.Subject...)
	r.Match = nil
	return &r
}

// jsAckDeliverAt returns the index of the '@' in a $JS.ACK reply that
// carries a delivery's subject, or -1: after at least 8 dots, as
// nats-server's jsAckDeliverIdx (the ack subject's own tokens have no '@').
func jsAckDeliverAt(reply []byte) int {
	if !bytes.HasPrefix(reply, []byte("$JS.ACK.")) {
		return -1
	}
	dots := 0
	for i, b := range reply {
		switch b {
		case '.':
			dots++
		case '@':
			if dots >= 8 && i < len(reply)-1 {
				return i
			}
		}
	}
	return -1
}

// unmatchRouted sets m's Match, Subject and Reply from a routed message's
// subject and reply: a delivery (see above) or a plain message.
func unmatchRouted(m *mux.Msg, subject, reply []byte) {
	m.Match = nil
	if len(reply) == 0 {
		return
	}
	if at := jsAckDeliverAt(reply); at >= 0 {
		m.Match, m.Subject, m.Reply = subject, reply[at+1:], reply[:at]
	}
}
