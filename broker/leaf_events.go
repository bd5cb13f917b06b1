package broker

import "fmt"

// Leaf node events in the system account. nats-server publishes
// $SYS.ACCOUNT.<acc>.LEAFNODE.CONNECT (server/events.go
// leafNodeConnectEventSubj, with an accNumConnsReq body) when a leaf
// connection binds to an account; Murmur publishes it on both sides of
// every leaf connection, and a .LEAFNODE.DISCONNECT (Murmur's) with the
// close reason when one ends.
const (
	eventLeafConnectFmt    = "$SYS.ACCOUNT.%s.LEAFNODE.CONNECT"
	eventLeafDisconnectFmt = "$SYS.ACCOUNT.%s.LEAFNODE.DISCONNECT"
)

// LeafNodeEvent is the body of a leaf node event: nats-server's
// accNumConnsReq (server, acc) with the peer and, on a disconnect, why.
type LeafNodeEvent struct {
	Server  ServerInfo `json:"server"`
	Account string     `json:"acc"`
	// Peer is the other broker's name; Spoke is set when this broker
	// dialed it (the peer is its hub).
	Peer   string `json:"peer,omitempty"`
	Spoke  bool   `json:"is_spoke,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (e *LeafNodeEvent) stamp(s *Server) {
	var ce ConnectEvent
	ce.stamp(s)
	e.Server = ce.Server
}

// leafEvent publishes l's connect (or, with reason, disconnect) event
// when anything in the system account listens.
func (s *Server) leafEvent(l *leaf, reason string) {
	format := eventLeafConnectFmt
	if reason != "" {
		format = eventLeafDisconnectFmt
	}
	subject := fmt.Sprintf(format, l.acc.name)
	if !listened(s.sysacc, subject) {
		return
	}
	s.publishEvent(s.sysacc, subject, &LeafNodeEvent{Account: l.acc.name, Peer: l.peer.Name, Spoke: l.toHub, Reason: reason})
}
