package broker

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nuid"

	"github.com/murmurmq/murmur/mux"
)

// Server events, published into the system account as nats-server does
// (server/events.go), for the system account's users to watch: a client
// connecting or disconnecting ($SYS.ACCOUNT.<acc>.CONNECT, .DISCONNECT)
// and a client failing authentication ($SYS.SERVER.<id>.CLIENT.AUTH.ERR).
// An event nobody in the system account listens to is not built.
const (
	eventConnectFmt    = "$SYS.ACCOUNT.%s.CONNECT"
	eventDisconnectFmt = "$SYS.ACCOUNT.%s.DISCONNECT"
	eventAuthErrFmt    = "$SYS.SERVER.%s.CLIENT.AUTH.ERR"

	eventConnectType    = "io.nats.server.advisory.v1.client_connect"
	eventDisconnectType = "io.nats.server.advisory.v1.client_disconnect"
)

// EventClient is the "client" block of a connect or disconnect event.
type EventClient struct {
	Start   time.Time  `json:"start"`
	Host    string     `json:"host,omitempty"`
	ID      uint64     `json:"id"`
	Account string     `json:"acc"`
	User    string     `json:"user,omitempty"`
	Name    string     `json:"name,omitempty"`
	Lang    string     `json:"lang,omitempty"`
	Version string     `json:"ver,omitempty"`
	RTT     string     `json:"rtt,omitempty"`
	Server  string     `json:"server,omitempty"`
	Cluster string     `json:"cluster,omitempty"`
	Stop    *time.Time `json:"stop,omitempty"`
	Kind    string     `json:"kind"`
	Type    string     `json:"client_type"`
}

// ConnectEvent is nats-server's ConnectEventMsg.
type ConnectEvent struct {
	Type   string      `json:"type"`
	ID     string      `json:"id"`
	Time   time.Time   `json:"timestamp"`
	Server ServerInfo  `json:"server"`
	Client EventClient `json:"client"`
}

// DisconnectEvent is nats-server's DisconnectEventMsg.
type DisconnectEvent struct {
	ConnectEvent
	Sent     MsgBytes `json:"sent"`
	Received MsgBytes `json:"received"`
	Reason   string   `json:"reason"`
}

// listened reports whether anything in acc subscribes to subject.
func listened(acc *account, subject string) bool {
	r := acc.mux.Match([]byte(subject))
	return len(r.Plain) > 0 || len(r.Queues) > 0
}

// clientConnected publishes c's connect event.
func (s *Server) clientConnected(c *client) {
	subject := fmt.Sprintf(eventConnectFmt, c.acc.Load().name)
	if !listened(s.sysacc, subject) {
		return
	}
	ev := ConnectEvent{Type: eventConnectType, Client: s.eventClient(c, false)}
	s.publishEvent(s.sysacc, subject, &ev)
}

// clientDisconnected publishes c's disconnect event (an authentication
// failure's goes to the server's AUTH.ERR subject instead).
func (s *Server) clientDisconnected(c *client, reason CloseReason) {
	subject := fmt.Sprintf(eventDisconnectFmt, c.acc.Load().name)
	if reason == AuthenticationViolation || reason == AuthenticationTimeout {
		subject = fmt.Sprintf(eventAuthErrFmt, s.id)
	}
	if !listened(s.sysacc, subject) {
		return
	}
	ev := DisconnectEvent{
		ConnectEvent: ConnectEvent{Type: eventDisconnectType, Client: s.eventClient(c, true)},
		Sent:         MsgBytes{Msgs: c.outMsgs.Load(), Bytes: c.outBytes.Load()},
		Received:     MsgBytes{Msgs: c.inMsgs.Load(), Bytes: c.inBytes.Load()},
		Reason:       reason.String(),
	}
	s.publishEvent(s.sysacc, subject, &ev)
}

func (s *Server) eventClient(c *client, stopped bool) EventClient {
	c.mu.Lock()
	opts := c.opts
	c.mu.Unlock()
	ec := EventClient{
		Start: c.start.UTC(), ID: c.cid, Account: c.acc.Load().name,
		Name: opts.Name, Lang: opts.Lang, Version: opts.Version,
		Server: s.opts.Name, Kind: "Client", Type: "nats",
	}
	if s.opts.Cluster != nil {
		ec.Cluster = s.opts.Cluster.Name
	}
	if host, _, err := net.SplitHostPort(c.remote.String()); err == nil {
		ec.Host = host
	}
	if u := c.user.Load(); u != nil {
		ec.User = *u
	}
	if rtt := c.rtt.Load(); rtt > 0 {
		ec.RTT = time.Duration(rtt).String()
	}
	if stopped {
		now := time.Now().UTC()
		ec.Stop = &now
	}
	return ec
}

// publishEvent publishes v as JSON on subject in the system account, from
// the calling goroutine.
func (s *Server) publishEvent(sys *account, subject string, v interface {
	stamp(s *Server)
}) {
	v.stamp(s)
	body, err := json.Marshal(v)
	if err != nil {
		return
	}
	m := mux.Msg{Subject: []byte(subject), Payload: body, Account: sys.name}
	var b mux.Batch
	sys.mux.Publish(nil, &m, &b)
	b.Flush()
	s.stats.outMsgs.Add(b.Msgs)
	s.stats.outBytes.Add(b.Bytes)
}

func (e *ConnectEvent) stamp(s *Server) {
	e.ID, e.Time = nuid.Next(), time.Now().UTC()
	e.Server = ServerInfo{Name: s.opts.Name, Host: s.opts.Host, ID: s.id, Version: ServerVersion, Tags: s.opts.Tags, Metadata: s.opts.Metadata, Seq: s.eventSeq.Add(1), Time: e.Time}
	if s.opts.Cluster != nil {
		e.Server.Cluster = s.opts.Cluster.Name
	}
}
