package broker

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/murmurmq/murmur/transport"
)

// Failover: a hub tells its leaves where every broker of its cluster
// takes leaf connections (INFO leafnode_urls: its own listener and those
// its routes' peers reported in their route INFO; leafnode_quic_urls the
// same for QUIC listeners), again whenever a route comes or goes; a leaf
// adds what it learns for its transport to the URLs it dials, as
// nats-server's updateLeafNodeURLs.

// ownLeafURL is where leaves reach this broker's TCP leaf listener ("":
// none): leafnodes.advertise, else the bound address.
func (s *Server) ownLeafURL() string {
	if s.opts.LeafNode == nil {
		return ""
	}
	if a := s.opts.LeafNode.Advertise; a != "" {
		return a
	}
	return listenerURL(s.leafs.ln)
}

// ownLeafQUICURL is where leaves reach this broker's QUIC leaf listener
// ("": none): leafnodes.quic.advertise, else its bound address.
func (s *Server) ownLeafQUICURL() string {
	if s.opts.LeafNode == nil || s.leafs.quicLn == nil {
		return ""
	}
	if a := s.opts.LeafNode.QUICAdvertise; a != "" {
		return a
	}
	return listenerURL(s.leafs.quicLn)
}

func listenerURL(ln transport.Listener) string {
	if ln == nil {
		return ""
	}
	host, port := splitHostPort(ln.Addr())
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// leafURLs is this broker's TCP leaf URL and its routed peers', sorted.
func (s *Server) leafURLs() []string {
	return s.clusterLeafURLs(s.ownLeafURL(), func(p *routeInfo) []string { return p.LeafNodeURLs })
}

// leafQUICURLs is the same for the QUIC leaf listeners (a Murmur
// extension: nats-server has no QUIC).
func (s *Server) leafQUICURLs() []string {
	return s.clusterLeafURLs(s.ownLeafQUICURL(), func(p *routeInfo) []string { return p.LeafNodeQUICURLs })
}

func (s *Server) clusterLeafURLs(own string, ofPeer func(*routeInfo) []string) []string {
	set := map[string]bool{}
	if own != "" {
		set[own] = true
	}
	s.mu.Lock()
	for _, r := range s.routes {
		for _, u := range ofPeer(r.peer) {
			set[u] = true
		}
	}
	s.mu.Unlock()
	return slices.Sorted(maps.Keys(set))
}

// leafURLsChanged sends the leaves connected here an INFO with the
// cluster's current leaf URLs (after a route came or went).
func (s *Server) leafURLsChanged() {
	if s.leafs.interest == nil {
		return
	}
	urls, quicURLs := s.leafURLs(), s.leafQUICURLs()
	s.mu.Lock()
	var leaves []*leaf
	for _, l := range s.leafs.conns {
		if !l.toHub {
			leaves = append(leaves, l)
		}
	}
	s.mu.Unlock()
	for _, l := range leaves {
		s.sendLeafURLs(l, urls, quicURLs)
	}
}

// sendLeafURLs sends leaf connection l an INFO with the TCP and QUIC
// leaf URLs.
func (s *Server) sendLeafURLs(l *leaf, urls, quicURLs []string) {
	info := s.leafInfoFor(l.cid, nil, !l.plain)
	info.LeafNodeURLs, info.LeafNodeQUICURLs, info.InfoOnConnect = urls, quicURLs, false
	b, _ := json.Marshal(&info)
	l.enqueue(append(append([]byte("INFO "), b...), crlf...))
}

// learnedURLs keeps the hub URLs a remote learned from INFO.
type learnedURLs struct {
	mu   sync.Mutex
	urls []*url.URL
}

// learn records the host:port list an INFO gave for the transport of the
// URL the connection was dialed with (leafnode_urls for TCP and TLS,
// leafnode_quic_urls for QUIC), with that URL's scheme and credentials.
func (r *leafRemote) learn(tcp, quic []string, via *url.URL) {
	var hostports []string
	switch via.Scheme {
	case "nats", "nats-leaf", "tls":
		hostports = tcp
	case "quic":
		hostports = quic
	default:
		return // no list of the hub cluster's WebSocket listeners
	}
	if len(hostports) == 0 {
		return // an INFO with only the other transport's list
	}
	var out []*url.URL
	for _, hp := range hostports {
		h, _, err := net.SplitHostPort(hp)
		if ip := net.ParseIP(h); err != nil || ip != nil && ip.IsUnspecified() {
			continue // a hub bound to 0.0.0.0 without leafnodes.advertise
		}
		u := *via
		u.Host = hp
		out = append(out, &u)
	}
	r.learned.mu.Lock()
	r.learned.urls = out
	r.learned.mu.Unlock()
}

// candidates are the URLs to dial: the configured ones, then those
// learned from the hub that are not among them.
func (r *leafRemote) candidates() []*url.URL {
	out := slices.Clone(r.urls)
	r.learned.mu.Lock()
	defer r.learned.mu.Unlock()
	for _, u := range r.learned.urls {
		if !slices.ContainsFunc(out, func(c *url.URL) bool { return c.Host == u.Host }) {
			out = append(out, u)
		}
	}
	return out
}
