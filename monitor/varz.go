package monitor

import (
	"net"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// Varz is the /varz document: nats-server's field names and units
// (durations in nanoseconds, times in RFC 3339, uptime like "1h2m3s") for
// the fields Murmur has, plus Transports.
type Varz struct {
	ID               string            `json:"server_id"`
	Name             string            `json:"server_name"`
	Version          string            `json:"version"`
	Proto            int               `json:"proto"`
	GoVersion        string            `json:"go"`
	Host             string            `json:"host"`
	Port             int               `json:"port"`
	ConnectURLs      []string          `json:"connect_urls,omitempty"`
	MaxConn          int               `json:"max_connections"`
	MaxSubs          int               `json:"max_subscriptions,omitempty"`
	PingInterval     time.Duration     `json:"ping_interval"`
	MaxPingsOut      int               `json:"ping_max"`
	HTTPHost         string            `json:"http_host"`
	HTTPPort         int               `json:"http_port"`
	MaxControlLine   int               `json:"max_control_line"`
	MaxPayload       int               `json:"max_payload"`
	MaxPending       int               `json:"max_pending"`
	WriteDeadline    time.Duration     `json:"write_deadline"`
	Cluster          *ClusterOpts      `json:"cluster,omitempty"`
	Websocket        WebsocketVarz     `json:"websocket"`
	Start            time.Time         `json:"start"`
	Now              time.Time         `json:"now"`
	Uptime           string            `json:"uptime"`
	Mem              int64             `json:"mem"`
	Cores            int               `json:"cores"`
	MaxProcs         int               `json:"gomaxprocs"`
	CPU              float64           `json:"cpu"`
	Connections      int               `json:"connections"`
	TotalConnections int64             `json:"total_connections"`
	Routes           int               `json:"routes"`
	Remotes          int               `json:"remotes"`
	Leafs            int               `json:"leafnodes"`
	InMsgs           int64             `json:"in_msgs"`
	OutMsgs          int64             `json:"out_msgs"`
	InBytes          int64             `json:"in_bytes"`
	OutBytes         int64             `json:"out_bytes"`
	SlowConsumers    int64             `json:"slow_consumers"`
	StaleConnections int64             `json:"stale_connections"`
	Subscriptions    int               `json:"subscriptions"`
	HTTPReqStats     map[string]uint64 `json:"http_req_stats"`
	ConfigLoadTime   time.Time         `json:"config_load_time"`
	// Transports maps each client transport ("tcp", "quic") to its bound
	// listening address. Murmur only.
	Transports map[string]string `json:"transports"`
	// Members is the number of live gossip members (Murmur only; omitted
	// without clustering).
	Members int `json:"members,omitempty"`
}

// ClusterOpts is the varz "cluster" block.
type ClusterOpts struct {
	Name string   `json:"name,omitempty"`
	Host string   `json:"addr,omitempty"`
	Port int      `json:"cluster_port,omitempty"`
	URLs []string `json:"urls,omitempty"`
}

// Varz returns the current /varz document.
func (m *Server) Varz() *Varz {
	now := time.Now()
	o := m.b.Options()
	st := m.b.Stats()
	start := m.b.StartTime()
	v := &Varz{
		ID:               m.b.ID(),
		Name:             m.b.Name(),
		Version:          broker.Version,
		Proto:            1,
		GoVersion:        runtime.Version(),
		Host:             o.Host,
		Port:             o.Port,
		MaxConn:          o.MaxConnections,
		MaxSubs:          o.MaxSubscriptions,
		PingInterval:     o.PingInterval,
		MaxPingsOut:      o.PingMax,
		HTTPHost:         m.cfg.Host,
		HTTPPort:         m.HTTPPort(),
		MaxControlLine:   o.MaxControlLine,
		MaxPayload:       o.MaxPayload,
		MaxPending:       o.MaxPending,
		WriteDeadline:    o.WriteDeadline,
		Start:            start.UTC(),
		Now:              now.UTC(),
		Mem:              m.cpu.rss(now),
		Cores:            runtime.NumCPU(),
		MaxProcs:         runtime.GOMAXPROCS(0),
		CPU:              m.cpu.percent(now),
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		InMsgs:           st.InMsgs,
		OutMsgs:          st.OutMsgs,
		InBytes:          st.InBytes,
		OutBytes:         st.OutBytes,
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: st.StaleConnections,
		Subscriptions:    st.Subscriptions,
		HTTPReqStats:     m.reqs.snapshot(),
		ConfigLoadTime:   start.UTC(),
		Transports:       make(map[string]string),
	}
	if !start.IsZero() {
		v.Uptime = uptime(now.Sub(start))
	} else {
		v.Uptime = "0s"
	}
	addrs := m.b.Addrs()
	v.Websocket = websocketVarz(o, addrs)
	names := make([]string, 0, len(addrs))
	for name, a := range addrs {
		v.Transports[name] = a.String()
		names = append(names, name)
	}
	// host/port are the client listener's, as nats-server: prefer tcp.
	sort.Strings(names)
	if a, ok := addrs["tcp"]; ok || len(names) > 0 {
		if !ok {
			a = addrs[names[0]]
		}
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			if v.Host == "" { // keep the configured host (0.0.0.0), as nats-server
				v.Host = h
			}
			v.Port, _ = strconv.Atoi(p)
		}
	}
	if m.routes != nil {
		routes := m.routes.Routes()
		v.Routes = len(routes)
		seen := make(map[string]bool, len(routes))
		for _, r := range routes {
			seen[r.RemoteID] = true
		}
		v.Remotes = len(seen)
	}
	// The list clients get in INFO connect_urls, as nats-server reports it.
	if cu, ok := m.b.(interface{ ConnectURLs() []string }); ok {
		v.ConnectURLs = cu.ConnectURLs()
	}
	if co := o.Cluster; co != nil {
		v.Cluster = &ClusterOpts{Name: co.Name}
		addr := co.Listen.Addr
		if ra, ok := m.b.(interface{ RouteAddr() net.Addr }); ok && ra.RouteAddr() != nil {
			addr = ra.RouteAddr().String()
		}
		if h, p, err := net.SplitHostPort(addr); err == nil {
			v.Cluster.Host = h
			v.Cluster.Port, _ = strconv.Atoi(p)
		}
	}
	if m.gossip != nil {
		for _, mb := range m.gossip.Members() {
			if mb.State == StateAlive {
				v.Members++
			}
		}
	}
	return v
}

func nowUTC() time.Time { return time.Now().UTC() }
