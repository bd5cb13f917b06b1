package monitor

import (
	"crypto/tls"
	"crypto/x509"
	"math"
	"net"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/murmurmq/murmur/broker"
)

// Varz is the /varz document: every field of nats-server 2.15's, with its
// names, units (durations in nanoseconds, timeouts in seconds, times in
// RFC 3339, uptime like "1h2m3s") and omitempty rules, so a tool reading
// one reads the other. A feature Murmur lacks reports what nats-server
// reports with it off: an empty block (gateway, leaf, mqtt, jetstream),
// zero counters, an omitted field. Murmur adds MurmurVersion, Transports
// and Members. docs/monitoring.md lists the differences.
type Varz struct {
	ID                    string                `json:"server_id"`
	Name                  string                `json:"server_name"`
	Version               string                `json:"version"` // broker.ServerVersion, the nats-server level
	Proto                 int                   `json:"proto"`
	GitCommit             string                `json:"git_commit,omitempty"`
	GoVersion             string                `json:"go"`
	Host                  string                `json:"host"`
	Port                  int                   `json:"port"`
	AuthRequired          bool                  `json:"auth_required,omitempty"`
	TLSRequired           bool                  `json:"tls_required,omitempty"`
	TLSVerify             bool                  `json:"tls_verify,omitempty"`
	TLSOCSPPeerVerify     bool                  `json:"tls_ocsp_peer_verify,omitempty"`
	IP                    string                `json:"ip,omitempty"`
	ConnectURLs           []string              `json:"connect_urls,omitempty"`
	WSConnectURLs         []string              `json:"ws_connect_urls,omitempty"`
	MaxConn               int                   `json:"max_connections"`
	MaxSubs               int                   `json:"max_subscriptions,omitempty"`
	PingInterval          time.Duration         `json:"ping_interval"`
	MaxPingsOut           int                   `json:"ping_max"`
	HTTPHost              string                `json:"http_host"`
	HTTPPort              int                   `json:"http_port"`
	HTTPBasePath          string                `json:"http_base_path"`
	HTTPSPort             int                   `json:"https_port"`
	AuthTimeout           float64               `json:"auth_timeout"`
	MaxControlLine        int                   `json:"max_control_line"`
	MaxPayload            int                   `json:"max_payload"`
	MaxPending            int                   `json:"max_pending"`
	Cluster               ClusterOpts           `json:"cluster"`
	Gateway               GatewayVarz           `json:"gateway"`
	LeafNode              LeafNodeVarz          `json:"leaf"`
	MQTT                  MQTTVarz              `json:"mqtt"`
	Websocket             WebsocketVarz         `json:"websocket"`
	JetStream             JetStreamVarz         `json:"jetstream"`
	TLSTimeout            float64               `json:"tls_timeout"`
	WriteDeadline         time.Duration         `json:"write_deadline"`
	WriteTimeout          string                `json:"write_timeout,omitempty"`
	Start                 time.Time             `json:"start"`
	Now                   time.Time             `json:"now"`
	Uptime                string                `json:"uptime"`
	Mem                   int64                 `json:"mem"`
	Cores                 int                   `json:"cores"`
	MaxProcs              int                   `json:"gomaxprocs"`
	MemLimit              int64                 `json:"gomemlimit,omitempty"`
	CPU                   float64               `json:"cpu"`
	Connections           int                   `json:"connections"`
	TotalConnections      int64                 `json:"total_connections"`
	Routes                int                   `json:"routes"`
	Remotes               int                   `json:"remotes"`
	Leafs                 int                   `json:"leafnodes"`
	InMsgs                int64                 `json:"in_msgs"`
	InBytes               int64                 `json:"in_bytes"`
	InClientMsgs          int64                 `json:"in_client_msgs"`
	InClientBytes         int64                 `json:"in_client_bytes"`
	OutMsgs               int64                 `json:"out_msgs"`
	OutBytes              int64                 `json:"out_bytes"`
	OutClientMsgs         int64                 `json:"out_client_msgs"`
	OutClientBytes        int64                 `json:"out_client_bytes"`
	SlowConsumers         int64                 `json:"slow_consumers"`
	StaleConnections      int64                 `json:"stale_connections"`
	StalledClients        int64                 `json:"stalled_clients"`
	Subscriptions         int                   `json:"subscriptions"`
	HTTPReqStats          map[string]uint64     `json:"http_req_stats"`
	ConfigLoadTime        time.Time             `json:"config_load_time"`
	ConfigDigest          string                `json:"config_digest"`
	Tags                  []string              `json:"tags,omitempty"`
	Metadata              map[string]string     `json:"metadata,omitempty"`
	FeatureFlags          map[string]bool       `json:"feature_flags,omitempty"`
	TrustedOperatorsJwt   []string              `json:"trusted_operators_jwt,omitempty"`
	TrustedOperatorsClaim []*jwt.OperatorClaims `json:"trusted_operators_claim,omitempty"`
	SystemAccount         string                `json:"system_account,omitempty"`
	PinnedAccountFail     uint64                `json:"pinned_account_fails,omitempty"`
	OCSPResponseCache     *struct{}             `json:"ocsp_peer_cache,omitempty"` // Murmur has no OCSP cache
	SlowConsumersStats    *KindCounts           `json:"slow_consumer_stats"`
	StaleConnectionStats  *KindCounts           `json:"stale_connection_stats,omitempty"`
	DiskIOWaitStats       *DiskIOWaitStats      `json:"disk_io_wait_stats"`
	Proxies               *struct{}             `json:"proxies,omitempty"` // Murmur trusts no proxies
	TLSCertNotAfter       time.Time             `json:"tls_cert_not_after,omitzero"`

	// MurmurVersion is Murmur's own release (broker.Version). Murmur only.
	MurmurVersion string `json:"murmur_version"`
	// Transports maps each client transport ("tcp", "quic") to its bound
	// listening address. Murmur only.
	Transports map[string]string `json:"transports"`
	// Members is the number of live gossip members (Murmur only; omitted
	// without clustering).
	Members int `json:"members,omitempty"`
}

// Optional broker methods the document uses when the broker has them
// (*broker.Server has all; a test's fake may not).
type (
	connectURLser   interface{ ConnectURLs() []string }
	wsConnectURLser interface{ WebSocketConnectURLs() []string }
	routeAddrer     interface{ RouteAddr() net.Addr }
	configLoadTimer interface{ ConfigLoadTime() time.Time }
	systemAccounter interface{ SystemAccount() string }
)

// Varz returns the current /varz document.
func (m *Server) Varz() *Varz {
	now := time.Now()
	o := m.b.Options()
	st := m.b.Stats()
	start := m.b.StartTime()
	v := &Varz{
		ID:               m.b.ID(),
		Name:             m.b.Name(),
		Version:          broker.ServerVersion,
		Proto:            1,
		GitCommit:        broker.GitCommit(),
		GoVersion:        runtime.Version(),
		Host:             o.Host,
		Port:             o.Port,
		AuthRequired:     o.Auth.Required(),
		MaxConn:          o.MaxConnections,
		MaxSubs:          o.MaxSubscriptions,
		PingInterval:     o.PingInterval,
		MaxPingsOut:      o.PingMax,
		HTTPHost:         m.cfg.Host,
		HTTPPort:         m.HTTPPort(),
		AuthTimeout:      authTimeout(o.Auth).Seconds(),
		MaxControlLine:   o.MaxControlLine,
		MaxPayload:       o.MaxPayload,
		MaxPending:       o.MaxPending,
		TLSTimeout:       broker.DefaultTLSTimeout.Seconds(),
		WriteDeadline:    o.WriteDeadline,
		Start:            start.UTC(),
		Now:              now.UTC(),
		Mem:              m.cpu.rss(now),
		Cores:            runtime.NumCPU(),
		MaxProcs:         runtime.GOMAXPROCS(0),
		MemLimit:         memLimit(),
		CPU:              m.cpu.percent(now),
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		InMsgs:           st.InMsgs,
		InBytes:          st.InBytes,
		InClientMsgs:     st.ClientInMsgs,
		InClientBytes:    st.ClientInBytes,
		OutMsgs:          st.OutMsgs,
		OutBytes:         st.OutBytes,
		OutClientMsgs:    st.ClientOutMsgs,
		OutClientBytes:   st.ClientOutBytes,
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: st.StaleConnections,
		StalledClients:   st.Stalls,
		Subscriptions:    st.Subscriptions,
		HTTPReqStats:     m.reqs.snapshot(),
		ConfigLoadTime:   start.UTC(),
		ConfigDigest:     o.ConfigDigest,
		Tags:             o.Tags,
		SlowConsumersStats: &KindCounts{
			Clients: st.SlowConsumers - st.SlowRoutes - st.SlowLeafs, Routes: st.SlowRoutes, Leafs: st.SlowLeafs,
		},
		StaleConnectionStats: &KindCounts{
			Clients: st.StaleConnections - st.StaleRoutes - st.StaleLeafs, Routes: st.StaleRoutes, Leafs: st.StaleLeafs,
		},
		DiskIOWaitStats: &DiskIOWaitStats{},
		MurmurVersion:   broker.Version,
		Transports:      make(map[string]string),
	}
	if !start.IsZero() {
		v.Uptime = uptime(now.Sub(start))
	} else {
		v.Uptime = "0s"
	}
	if t := o.TLS; t != nil && t.Config != nil {
		v.TLSRequired = true
		v.TLSVerify = t.Config.ClientAuth == tls.RequireAndVerifyClientCert
		if t.Timeout > 0 {
			v.TLSTimeout = t.Timeout.Seconds()
		}
		v.TLSCertNotAfter = certNotAfter(t.Config)
	}
	if op := o.Auth; op != nil && op.Operator != nil {
		v.TrustedOperatorsJwt = op.Operator.Operators
		for _, tok := range op.Operator.Operators {
			if c, err := jwt.DecodeOperatorClaims(tok); err == nil {
				v.TrustedOperatorsClaim = append(v.TrustedOperatorsClaim, c)
			}
		}
	}
	if b, ok := m.b.(configLoadTimer); ok {
		v.ConfigLoadTime = b.ConfigLoadTime().UTC()
	}
	if b, ok := m.b.(systemAccounter); ok {
		v.SystemAccount = b.SystemAccount()
	}
	addrs := m.b.Addrs()
	v.Websocket = websocketVarz(o, addrs)
	m.listenerAddrs(v, addrs)
	if m.routes != nil {
		routes := m.routes.Routes()
		v.Routes = len(routes)
		seen := make(map[string]bool, len(routes))
		for _, r := range routes {
			seen[r.RemoteID] = true
		}
		v.Remotes = len(seen)
	}
	v.Leafs = len(m.leafs(false))
	v.LeafNode = m.leafVarz(o)
	// The lists clients get in INFO connect_urls, as nats-server reports them.
	if b, ok := m.b.(connectURLser); ok {
		v.ConnectURLs = b.ConnectURLs()
	}
	if b, ok := m.b.(wsConnectURLser); ok {
		v.WSConnectURLs = b.WebSocketConnectURLs()
	}
	if co := o.Cluster; co != nil {
		v.Cluster = m.clusterVarz(co)
	}
	if m.gossip != nil {
		for _, mb := range m.gossip.Members() {
			if mb.State == StateAlive {
				v.Members++
			}
		}
	}
	v.JetStream = m.jetStreamVarz()
	return v
}

// listenerAddrs fills Transports and the client host and port: the TCP
// listener's, as nats-server, or else the first transport's by name.
func (m *Server) listenerAddrs(v *Varz, addrs map[string]net.Addr) {
	names := make([]string, 0, len(addrs))
	for name, a := range addrs {
		v.Transports[name] = a.String()
		names = append(names, name)
	}
	sort.Strings(names)
	a, ok := addrs["tcp"]
	if !ok && len(names) > 0 {
		a, ok = addrs[names[0]], true
	}
	if !ok {
		return
	}
	if h, p, err := net.SplitHostPort(a.String()); err == nil {
		if v.Host == "" { // keep the configured host (0.0.0.0), as nats-server
			v.Host = h
		}
		v.Port, _ = strconv.Atoi(p)
	}
}

// authTimeout is the time a client has to authenticate.
func authTimeout(a *broker.AuthOptions) time.Duration {
	if a != nil && a.Timeout > 0 {
		return a.Timeout
	}
	return broker.DefaultAuthTimeout
}

// memLimit is GOMEMLIMIT when one is set, as nats-server reports it.
func memLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

// certNotAfter is when the first certificate of c expires.
func certNotAfter(c *tls.Config) time.Time {
	if len(c.Certificates) == 0 || len(c.Certificates[0].Certificate) == 0 {
		return time.Time{}
	}
	leaf := c.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificates[0].Certificate[0]); err != nil {
			return time.Time{}
		}
	}
	return leaf.NotAfter
}

func nowUTC() time.Time { return time.Now().UTC() }
