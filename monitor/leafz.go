package monitor

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// LeafProvider supplies /leafz and the leaf counts in /varz and /metrics.
// *broker.Server implements it; the monitor finds it on its Broker. Leafs
// must return promptly and may be called from any goroutine.
type LeafProvider interface {
	Leafs(withSubs bool) []broker.LeafInfo
}

// LeafInfo is one leaf node connection in /leafz (nats-server's field
// names). IsSpoke: this broker dialed it, so this broker is the leaf (the
// spoke) and the peer its hub.
type LeafInfo struct {
	ID          uint64   `json:"id"`
	Name        string   `json:"name"`
	IsSpoke     bool     `json:"is_spoke"`
	Account     string   `json:"account"`
	IP          string   `json:"ip"`
	Port        int      `json:"port"`
	RTT         string   `json:"rtt,omitempty"`
	InMsgs      int64    `json:"in_msgs"`
	OutMsgs     int64    `json:"out_msgs"`
	InBytes     int64    `json:"in_bytes"`
	OutBytes    int64    `json:"out_bytes"`
	NumSubs     uint32   `json:"subscriptions"`
	Subs        []string `json:"subscriptions_list,omitempty"`
	Compression string   `json:"compression,omitempty"`
}

// Leafz is the /leafz document.
type Leafz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumLeafs int         `json:"leafnodes"`
	Leafs    []*LeafInfo `json:"leafs"`
}

// leafs is the broker's leaf connections (nil without leaf nodes).
func (m *Server) leafs(subs bool) []broker.LeafInfo {
	if lp, ok := m.b.(LeafProvider); ok {
		return lp.Leafs(subs)
	}
	return nil
}

// Leafz returns the /leafz document: the leaf node connections of account
// acc (all when empty), with their interest's subjects when subs is set.
func (m *Server) Leafz(subs bool, acc string) *Leafz {
	lz := &Leafz{ID: m.b.ID(), Now: nowUTC(), Leafs: []*LeafInfo{}}
	for _, l := range m.leafs(subs) {
		if acc != "" && l.Account != acc {
			continue
		}
		li := &LeafInfo{
			ID: l.CID, Name: l.Name, IsSpoke: l.ToHub, Account: l.Account,
			InMsgs: l.InMsgs, OutMsgs: l.OutMsgs, InBytes: l.InBytes, OutBytes: l.OutBytes,
			NumSubs: uint32(l.NumSubs), Subs: l.Subs, Compression: l.Compression,
		}
		if l.RTT > 0 {
			li.RTT = l.RTT.String()
		}
		if h, p, err := net.SplitHostPort(l.RemoteAddr); err == nil {
			li.IP = h
			li.Port, _ = strconv.Atoi(p)
		}
		lz.Leafs = append(lz.Leafs, li)
	}
	lz.NumLeafs = len(lz.Leafs)
	return lz
}

// leafMetrics writes the leaf node series: the count, and per connection
// what crossed it.
func (m *Server) leafMetrics(w *promWriter) {
	leafs := m.Leafz(false, "").Leafs
	w.gauge("murmur_leafnodes", "Open leaf node connections (to hubs and from leaves).", float64(len(leafs)))
	perLeaf := []struct {
		name, kind, help string
		val              func(l *LeafInfo) float64
	}{
		{"murmur_leaf_in_msgs_total", "counter", "Messages received over a leaf node connection.", func(l *LeafInfo) float64 { return float64(l.InMsgs) }},
		{"murmur_leaf_in_bytes_total", "counter", "Bytes received over a leaf node connection.", func(l *LeafInfo) float64 { return float64(l.InBytes) }},
		{"murmur_leaf_out_msgs_total", "counter", "Messages sent over a leaf node connection.", func(l *LeafInfo) float64 { return float64(l.OutMsgs) }},
		{"murmur_leaf_out_bytes_total", "counter", "Bytes sent over a leaf node connection.", func(l *LeafInfo) float64 { return float64(l.OutBytes) }},
		{"murmur_leaf_subscriptions", "gauge", "Interest the peer of a leaf node connection has registered.", func(l *LeafInfo) float64 { return float64(l.NumSubs) }},
	}
	for _, f := range perLeaf {
		w.family(f.name, f.kind, f.help)
		for _, l := range leafs {
			w.sample(f.name, f.val(l), "cid", strconv.FormatUint(l.ID, 10), "remote_name", l.Name,
				"account", l.Account, "spoke", strconv.FormatBool(l.IsSpoke))
		}
	}
}

// LeafNodeVarz is the /varz "leaf" block, nats-server's LeafNodeOptsVarz
// (empty without leaf nodes, as nats-server's).
type LeafNodeVarz struct {
	Host        string           `json:"host,omitempty"`
	Port        int              `json:"port,omitempty"`
	AuthTimeout float64          `json:"auth_timeout,omitempty"`
	Remotes     []RemoteLeafVarz `json:"remotes,omitempty"`
}

// RemoteLeafVarz is one configured remote (nats-server's
// RemoteLeafOptsVarz): the local account it binds, its hosts, its denies.
type RemoteLeafVarz struct {
	LocalAccount string     `json:"local_account,omitempty"`
	URLs         []string   `json:"urls,omitempty"`
	Deny         *DenyRules `json:"deny,omitempty"`
}

// DenyRules are a remote's deny_exports and deny_imports.
type DenyRules struct {
	Exports []string `json:"exports,omitempty"`
	Imports []string `json:"imports,omitempty"`
}

// leafVarz fills the "leaf" block from the options and the bound leaf
// node listener.
func (m *Server) leafVarz(o broker.Options) LeafNodeVarz {
	ln := o.LeafNode
	if ln == nil {
		return LeafNodeVarz{}
	}
	var v LeafNodeVarz
	if b, ok := m.b.(interface{ LeafAddr() net.Addr }); ok && b.LeafAddr() != nil {
		h, p, _ := net.SplitHostPort(b.LeafAddr().String())
		v.Host = h
		v.Port, _ = strconv.Atoi(p)
		at := ln.AuthTimeout
		if at <= 0 {
			at = broker.DefaultAuthTimeout
		}
		v.AuthTimeout = at.Seconds()
	}
	for _, r := range ln.Remotes {
		rv := RemoteLeafVarz{LocalAccount: r.Account}
		if rv.LocalAccount == "" {
			rv.LocalAccount = broker.GlobalAccount
		}
		for _, raw := range r.URLs {
			if u, err := url.Parse(raw); err == nil {
				rv.URLs = append(rv.URLs, u.Host) // as nats-server: no credentials
			}
		}
		if len(r.DenyImports) > 0 || len(r.DenyExports) > 0 {
			rv.Deny = &DenyRules{Exports: r.DenyExports, Imports: r.DenyImports}
		}
		v.Remotes = append(v.Remotes, rv)
	}
	return v
}
