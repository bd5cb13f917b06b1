package monitor

import (
	"net"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// ClusterOpts is the varz "cluster" block, as nats-server's
// ClusterOptsVarz: empty ({}) without clustering.
type ClusterOpts struct {
	Name        string   `json:"name,omitempty"`
	Host        string   `json:"addr,omitempty"`
	Port        int      `json:"cluster_port,omitempty"`
	AuthTimeout float64  `json:"auth_timeout,omitempty"`
	URLs        []string `json:"urls,omitempty"`
	TLSTimeout  float64  `json:"tls_timeout,omitempty"`
	TLSRequired bool     `json:"tls_required,omitempty"`
	TLSVerify   bool     `json:"tls_verify,omitempty"`
	// PoolSize is the number of route connections to each peer: Murmur
	// keeps one (nats-server's default pool is 3).
	PoolSize        int           `json:"pool_size,omitempty"`
	WriteDeadline   time.Duration `json:"write_deadline,omitempty"`
	WriteTimeout    string        `json:"write_timeout,omitempty"`
	TLSCertNotAfter time.Time     `json:"tls_cert_not_after,omitzero"`
}

// clusterVarz describes the route listener of co.
func (m *Server) clusterVarz(co *broker.ClusterOptions) ClusterOpts {
	c := ClusterOpts{
		Name: co.Name,
		// The route handshake, authentication included, has this long.
		AuthTimeout: broker.RouteHandshakeTimeout.Seconds(),
		TLSTimeout:  broker.RouteHandshakeTimeout.Seconds(),
		PoolSize:    1,
	}
	addr := co.Listen.Addr
	if b, ok := m.b.(routeAddrer); ok && b.RouteAddr() != nil {
		addr = b.RouteAddr().String()
	}
	if h, p, err := net.SplitHostPort(addr); err == nil {
		c.Host = h
		c.Port, _ = strconv.Atoi(p)
	}
	c.URLs = m.cfg.RouteURLs
	return c
}

// The blocks of features Murmur does not have. nats-server reports each
// as an empty object when the feature is off, and so does Murmur; the
// issue that adds one (JetStream) gives its block the fields; the "leaf"
// block is LeafNodeVarz (leafz.go), the "jetstream" one JetStreamVarz
// (jsz.go).
type (
	// GatewayVarz is the "gateway" block: Murmur has no gateways.
	GatewayVarz struct{}
	// MQTTVarz is the "mqtt" block: Murmur has no MQTT listener.
	MQTTVarz struct{}
)

// KindCounts splits a counter by connection kind, as nats-server's
// slow_consumer_stats and stale_connection_stats. Murmur has no gateways,
// so theirs are 0.
type KindCounts struct {
	Clients  int64 `json:"clients"`
	Routes   int64 `json:"routes"`
	Gateways int64 `json:"gateways"`
	Leafs    int64 `json:"leafs"`
}

// DiskIOWaitStats is nats-server's JetStream disk semaphore contention:
// all zero, as Murmur has no JetStream store.
type DiskIOWaitStats struct {
	Waiters     int64  `json:"waiters"`
	Waits       uint64 `json:"waits"`
	WaitTime    uint64 `json:"wait_time"`
	MaxWaitTime uint64 `json:"max_wait_time"`
}
