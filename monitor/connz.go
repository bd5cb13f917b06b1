package monitor

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/murmurmq/murmur/broker"
)

// DefaultConnListSize is /connz's default limit, as nats-server's.
const DefaultConnListSize = 1024

// SortOpt is a /connz sort key, with nats-server's names.
type SortOpt string

// Sort keys. Only cid, start and reason sort ascending; uptime sorts from
// the newest connection (as nats-server); the rest sort largest first.
const (
	ByCid      SortOpt = "cid"
	ByStart    SortOpt = "start"
	BySubs     SortOpt = "subs"
	ByPending  SortOpt = "pending"
	ByOutMsgs  SortOpt = "msgs_to"
	ByInMsgs   SortOpt = "msgs_from"
	ByOutBytes SortOpt = "bytes_to"
	ByInBytes  SortOpt = "bytes_from"
	ByLast     SortOpt = "last"
	ByIdle     SortOpt = "idle"
	ByUptime   SortOpt = "uptime"
	ByStop     SortOpt = "stop"
	ByReason   SortOpt = "reason"
	ByRTT      SortOpt = "rtt"
)

// ConnState selects open, closed or all connections.
type ConnState int

// Connection states for ConnzOptions.State.
const (
	ConnOpen ConnState = iota
	ConnClosed
	ConnAll
)

// ConnzOptions are /connz's query parameters.
type ConnzOptions struct {
	Sort          SortOpt
	Subscriptions bool
	Offset, Limit int
	State         ConnState
	// CID, when set, selects one connection.
	CID uint64
	// Account, when set, selects the connections of one account (acc=).
	Account string
	// Auth adds each connection's user (auth=true).
	Auth bool
}

// Connz is the /connz document.
type Connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*ConnInfo `json:"connections"`
}

// ConnInfo is one connection in /connz, with nats-server's field names,
// plus Transport ("tcp", "quic").
type ConnInfo struct {
	Cid          uint64     `json:"cid"`
	Kind         string     `json:"kind"`
	Type         string     `json:"type"`
	IP           string     `json:"ip"`
	Port         int        `json:"port"`
	Start        time.Time  `json:"start"`
	LastActivity time.Time  `json:"last_activity"`
	Stop         *time.Time `json:"stop,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	RTT          string     `json:"rtt,omitempty"`
	Uptime       string     `json:"uptime"`
	Idle         string     `json:"idle"`
	Pending      int        `json:"pending_bytes"`
	InMsgs       int64      `json:"in_msgs"`
	OutMsgs      int64      `json:"out_msgs"`
	InBytes      int64      `json:"in_bytes"`
	OutBytes     int64      `json:"out_bytes"`
	NumSubs      int        `json:"subscriptions"`
	Name         string     `json:"name,omitempty"`
	Lang         string     `json:"lang,omitempty"`
	Version      string     `json:"version,omitempty"`
	Subs         []string   `json:"subscriptions_list,omitempty"`
	Account      string     `json:"account,omitempty"`
	User         string     `json:"authorized_user,omitempty"`
	Transport    string     `json:"transport"`

	uptime, idle, rtt time.Duration // for sorting
}

// connzOptions decodes /connz's query in nats-server's order: auth,
// subs, offset, limit, cid, state, acc. The sort key is checked by Connz.
func connzOptions(args *fasthttp.Args) (ConnzOptions, error) {
	var o ConnzOptions
	var err error
	if o.Auth, err = decodeBool(args, "auth"); err != nil {
		return o, err
	}
	if o.Subscriptions, err = decodeSubs(args); err != nil {
		return o, err
	}
	if o.Offset, err = decodeInt(args, "offset"); err != nil {
		return o, err
	}
	if o.Limit, err = decodeInt(args, "limit"); err != nil {
		return o, err
	}
	if o.CID, err = decodeUint64(args, "cid"); err != nil {
		return o, err
	}
	if o.State, err = decodeState(args); err != nil {
		return o, err
	}
	o.Account = string(args.Peek("acc"))
	o.Sort = SortOpt(args.Peek("sort"))
	return o, nil
}

// Connz returns the /connz document for opts.
func (m *Server) Connz(opts ConnzOptions) (*Connz, error) {
	switch opts.Sort {
	case "", ByCid, ByStart, BySubs, ByPending, ByOutMsgs, ByInMsgs, ByOutBytes, ByInBytes, ByLast, ByIdle, ByUptime, ByRTT:
	case ByStop, ByReason:
		if opts.State != ConnClosed {
			return nil, fmt.Errorf("sort by %s only valid on closed connections", opts.Sort)
		}
	default:
		return nil, fmt.Errorf("invalid sorting option: %s", opts.Sort)
	}
	opts.Offset = max(opts.Offset, 0)
	if opts.Limit <= 0 {
		opts.Limit = DefaultConnListSize
	}
	now := time.Now()
	var raw []broker.ConnInfo
	if opts.State != ConnClosed {
		raw = m.b.Connections(opts.Subscriptions)
	}
	if opts.State != ConnOpen {
		raw = append(raw, m.b.ClosedConnections()...)
	}
	conns := make([]*ConnInfo, 0, len(raw))
	for i := range raw {
		if opts.CID != 0 && raw[i].CID != opts.CID || opts.Account != "" && raw[i].Account != opts.Account {
			continue
		}
		ci := connInfo(&raw[i], now, opts.Subscriptions)
		if opts.Auth {
			ci.User = raw[i].User
		}
		conns = append(conns, ci)
	}
	sortConns(conns, opts.Sort)
	total := len(conns)
	lo := min(opts.Offset, total)
	hi := lo + min(opts.Limit, total-lo)
	page := conns[lo:hi]
	return &Connz{
		ID:       m.b.ID(),
		Now:      now.UTC(),
		NumConns: len(page),
		Total:    total,
		Offset:   opts.Offset,
		Limit:    opts.Limit,
		Conns:    page,
	}, nil
}

func connInfo(c *broker.ConnInfo, now time.Time, withSubs bool) *ConnInfo {
	ci := &ConnInfo{
		Cid:          c.CID,
		Kind:         "Client",
		Type:         "nats",
		Start:        c.Start.UTC(),
		LastActivity: c.LastActivity.UTC(),
		Reason:       c.Reason,
		Pending:      c.PendingBytes,
		InMsgs:       c.InMsgs,
		OutMsgs:      c.OutMsgs,
		InBytes:      c.InBytes,
		OutBytes:     c.OutBytes,
		NumSubs:      c.NumSubs,
		Name:         c.Name,
		Lang:         c.Lang,
		Version:      c.Version,
		Account:      c.Account,
		Transport:    c.Transport,
	}
	if c.RTT > 0 {
		ci.RTT = c.RTT.String()
		ci.rtt = c.RTT
	}
	if withSubs {
		ci.Subs = c.Subs
	}
	if h, p, err := net.SplitHostPort(c.RemoteAddr); err == nil {
		ci.IP = h
		ci.Port, _ = strconv.Atoi(p)
	}
	end := now
	if !c.Stop.IsZero() {
		stop := c.Stop.UTC()
		ci.Stop = &stop
		end = c.Stop
	}
	ci.uptime = end.Sub(c.Start)
	ci.idle = max(end.Sub(c.LastActivity), 0)
	ci.Uptime, ci.Idle = uptime(ci.uptime), uptime(ci.idle)
	return ci
}

// sortConns orders conns by key as nats-server does; ties keep cid order,
// so paging is stable.
func sortConns(conns []*ConnInfo, key SortOpt) {
	sort.SliceStable(conns, func(i, j int) bool { return conns[i].Cid < conns[j].Cid })
	var less func(a, b *ConnInfo) bool
	switch key {
	case BySubs:
		less = func(a, b *ConnInfo) bool { return a.NumSubs > b.NumSubs }
	case ByPending:
		less = func(a, b *ConnInfo) bool { return a.Pending > b.Pending }
	case ByOutMsgs:
		less = func(a, b *ConnInfo) bool { return a.OutMsgs > b.OutMsgs }
	case ByInMsgs:
		less = func(a, b *ConnInfo) bool { return a.InMsgs > b.InMsgs }
	case ByOutBytes:
		less = func(a, b *ConnInfo) bool { return a.OutBytes > b.OutBytes }
	case ByInBytes:
		less = func(a, b *ConnInfo) bool { return a.InBytes > b.InBytes }
	case ByLast:
		less = func(a, b *ConnInfo) bool { return a.LastActivity.After(b.LastActivity) }
	case ByIdle:
		less = func(a, b *ConnInfo) bool { return a.idle > b.idle }
	case ByUptime:
		less = func(a, b *ConnInfo) bool { return a.uptime < b.uptime }
	case ByStop:
		less = func(a, b *ConnInfo) bool { return a.Stop != nil && b.Stop != nil && a.Stop.After(*b.Stop) }
	case ByReason:
		less = func(a, b *ConnInfo) bool { return a.Reason < b.Reason }
	case ByRTT:
		less = func(a, b *ConnInfo) bool { return a.rtt > b.rtt }
	default:
		return
	}
	sort.SliceStable(conns, func(i, j int) bool { return less(conns[i], conns[j]) })
}
