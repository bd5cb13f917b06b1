package monitor

import (
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// RouteProvider supplies /routez and the route counts in /varz and
// /metrics. *broker.Server implements it. Routes must return promptly and
// may be called from any goroutine; the monitor does not keep the slice.
type RouteProvider interface {
	Routes() []broker.RouteInfo
}

// GossipProvider supplies /gossipz, the live page's member list and the
// member counts in /varz, /metrics and the stats log. The clustering work
// adapts its gossip view to it. Members must return promptly, may be
// called from any goroutine, and includes the local node.
type GossipProvider interface {
	Members() []Member
}

// GossipFunc adapts a function to GossipProvider.
type GossipFunc func() []Member

// Members calls f.
func (f GossipFunc) Members() []Member { return f() }

// RouteInfo is one route in /routez (nats-server's field names).
type RouteInfo struct {
	Rid          uint64    `json:"rid"`
	RemoteID     string    `json:"remote_id"`
	RemoteName   string    `json:"remote_name"`
	DidSolicit   bool      `json:"did_solicit"`
	IsConfigured bool      `json:"is_configured"`
	IP           string    `json:"ip"`
	Port         int       `json:"port"`
	Start        time.Time `json:"start"`
	LastActivity time.Time `json:"last_activity,omitzero"`
	RTT          string    `json:"rtt,omitempty"`
	Uptime       string    `json:"uptime"`
	Idle         string    `json:"idle,omitempty"`
	Pending      int       `json:"pending_size"`
	InMsgs       int64     `json:"in_msgs"`
	OutMsgs      int64     `json:"out_msgs"`
	InBytes      int64     `json:"in_bytes"`
	OutBytes     int64     `json:"out_bytes"`
	NumSubs      int       `json:"subscriptions"`
	Subs         []string  `json:"subscriptions_list,omitempty"`
	Compression  string    `json:"compression,omitempty"`
}

// Routez is the /routez document.
type Routez struct {
	ID        string       `json:"server_id"`
	Name      string       `json:"server_name"`
	Now       time.Time    `json:"now"`
	NumRoutes int          `json:"num_routes"`
	Routes    []*RouteInfo `json:"routes"`
}

// Member states as /gossipz reports them.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
	StateLeft    = "left"
)

// Member is one gossip member as this broker sees it.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// State is one of StateAlive, StateSuspect, StateDead, StateLeft.
	State       string            `json:"state"`
	Meta        map[string]string `json:"metadata,omitempty"`
	Incarnation uint64            `json:"incarnation"`
	// Local marks this broker itself.
	Local bool `json:"local,omitempty"`
	// Since is when this broker last saw State change.
	Since time.Time `json:"since,omitzero"`
	// Replaced marks a suspect or dead member whose broker is back: an
	// alive member has its server name or gossip address (health.go). It
	// is no alarm; the monitor sets it.
	Replaced bool `json:"replaced,omitempty"`
}

// Gossipz is the /gossipz document (Murmur only).
type Gossipz struct {
	ID         string    `json:"server_id"`
	Name       string    `json:"server_name"`
	Now        time.Time `json:"now"`
	NumMembers int       `json:"num_members"`
	Alive      int       `json:"alive"`
	Members    []Member  `json:"members"`
}

// Routez returns the /routez document, ordered by rid. The broker does not
// list a route's subjects yet, so subs has no effect.
func (m *Server) Routez(subs bool) *Routez {
	rz := &Routez{ID: m.b.ID(), Name: m.b.Name(), Now: nowUTC(), Routes: []*RouteInfo{}}
	if m.routes == nil {
		return rz
	}
	routes := m.routes.Routes()
	now := time.Now()
	rz.Now = now.UTC()
	for _, r := range routes {
		ri := &RouteInfo{
			Rid:         r.RID,
			RemoteID:    r.RemoteID,
			RemoteName:  r.RemoteName,
			DidSolicit:  r.Solicited,
			Start:       r.Start.UTC(),
			Uptime:      uptime(now.Sub(r.Start)),
			Pending:     r.Pending,
			InMsgs:      r.InMsgs,
			OutMsgs:     r.OutMsgs,
			InBytes:     r.InBytes,
			OutBytes:    r.OutBytes,
			NumSubs:     r.NumSubs,
			Compression: "off",
		}
		if r.RTT > 0 {
			ri.RTT = r.RTT.String()
		}
		if r.Compressed {
			ri.Compression = "s2"
		}
		if h, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ri.IP = h
			ri.Port, _ = strconv.Atoi(p)
		}
		rz.Routes = append(rz.Routes, ri)
	}
	sort.Slice(rz.Routes, func(i, j int) bool { return rz.Routes[i].Rid < rz.Routes[j].Rid })
	rz.NumRoutes = len(rz.Routes)
	return rz
}

// Gossipz returns the /gossipz document.
func (m *Server) Gossipz() *Gossipz {
	gz := &Gossipz{ID: m.b.ID(), Name: m.b.Name(), Now: nowUTC(), Members: []Member{}}
	if m.gossip == nil {
		return gz
	}
	gz.Members = append(gz.Members, markReplaced(m.gossip.Members())...)
	for _, mb := range gz.Members {
		if mb.State == StateAlive {
			gz.Alive++
		}
	}
	gz.NumMembers = len(gz.Members)
	return gz
}
