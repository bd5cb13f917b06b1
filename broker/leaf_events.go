package broker

import (
	"fmt"
	"net"
	"time"
)

// Leaf node events in the system account. nats-server publishes
// $SYS.ACCOUNT.<acc>.LEAFNODE.CONNECT (server/events.go
// leafNodeConnectEventSubj, with an accNumConnsReq body) when a leaf
// connection binds to an account; Murmur publishes it on both sides of
// every leaf connection, and a .LEAFNODE.DISCONNECT (Murmur's) with the
// close reason when one ends.
//
// As nats-server, a leaf connection also gets the account events a client
// gets, with kind "Leafnode": $SYS.ACCOUNT.<acc>.CONNECT when a leaf that
// logged in as a client does (no leafnodes authorization block) binds to
// an account on the hub, and $SYS.ACCOUNT.<acc>.DISCONNECT when any leaf
// connection, on either end, closes.
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
	if listened(s.sysacc, subject) {
		s.publishEvent(s.sysacc, subject, &LeafNodeEvent{Account: l.acc.name, Peer: l.peer.Name, Spoke: l.toHub, Reason: reason})
	}
	s.leafAccountEvent(l, reason)
}

// leafAccountEvent publishes l's account connect (reason "") or
// disconnect event, nats-server's ConnectEventMsg and DisconnectEventMsg.
func (s *Server) leafAccountEvent(l *leaf, reason string) {
	if reason == "" && (l.toHub || s.leafs.auth != nil) {
		return
	}
	format := eventConnectFmt
	if reason != "" {
		format = eventDisconnectFmt
	}
	subject := fmt.Sprintf(format, l.acc.name)
	if !listened(s.sysacc, subject) {
		return
	}
	ci := l.snapshot()
	ec := EventClient{
		Start: ci.Start.UTC(), ID: l.cid, Account: l.acc.name, User: l.user,
		Name: l.peer.Name, Version: l.peer.Version, Server: s.opts.Name, Kind: "Leafnode",
	}
	if s.opts.Cluster != nil {
		ec.Cluster = s.opts.Cluster.Name
	}
	if host, _, err := net.SplitHostPort(ci.RemoteAddr); err == nil {
		ec.Host = host
	}
	if ci.RTT > 0 {
		ec.RTT = ci.RTT.String()
	}
	if reason == "" {
		s.publishEvent(s.sysacc, subject, &ConnectEvent{Type: eventConnectType, Client: ec})
		return
	}
	now := time.Now().UTC()
	ec.Stop = &now
	s.publishEvent(s.sysacc, subject, &DisconnectEvent{
		ConnectEvent: ConnectEvent{Type: eventDisconnectType, Client: ec},
		Sent:         MsgBytes{Msgs: ci.OutMsgs, Bytes: ci.OutBytes},
		Received:     MsgBytes{Msgs: ci.InMsgs, Bytes: ci.InBytes},
		Reason:       reason,
	})
}

// leafAuthFailed publishes a refused leaf login on the server's
// $SYS.SERVER.<id>.CLIENT.AUTH.ERR, as nats-server's authViolation does
// for a leaf connection: a DisconnectEventMsg of kind Leafnode with the
// user the leaf tried, account "N/A" and reason "Authentication Failure".
func (s *Server) leafAuthFailed(cid uint64, nc net.Conn, lc *leafConnect, start time.Time) {
	subject := fmt.Sprintf(eventAuthErrFmt, s.id)
	if !listened(s.sysacc, subject) {
		return
	}
	now := time.Now().UTC()
	ec := EventClient{
		Start: start.UTC(), Stop: &now, ID: cid, User: lc.User, Account: "N/A", // bound to none, as nats-server says
		Name: lc.Name, Version: lc.Version, Server: s.opts.Name, Kind: "Leafnode",
	}
	if s.opts.Cluster != nil {
		ec.Cluster = s.opts.Cluster.Name
	}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		ec.Host = host
	}
	s.publishEvent(s.sysacc, subject, &DisconnectEvent{
		ConnectEvent: ConnectEvent{Type: eventDisconnectType, Client: ec},
		Reason:       AuthenticationViolation.String(),
	})
}
