package broker

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
)

// Failover: a hub tells its leaves where every broker of its cluster
// takes leaf connections (INFO leafnode_urls: its own listener and those
// its routes' peers reported in their route INFO), again whenever a route
// comes or goes; a leaf adds what it learns to the URLs it dials, as
// nats-server's updateLeafNodeURLs.

// ownLeafURL is where leaves reach this broker ("": no leaf listener):
// leafnodes.advertise, else the bound address.
func (s *Server) ownLeafURL() string {
	if s.opts.LeafNode == nil {
		return ""
	}
	if a := s.opts.LeafNode.Advertise; a != "" {
		return a
	}
	ln := s.leafs.ln
	if ln == nil {
		if ln = s.leafs.quicLn; ln == nil {
			return ""
		}
	}
	host, port := splitHostPort(ln.Addr())
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// leafURLs is this broker's leaf URL and its routed peers', sorted.
func (s *Server) leafURLs() []string {
	set := map[string]bool{}
	if u := s.ownLeafURL(); u != "" {
		set[u] = true
	}
	s.mu.Lock()
	for _, r := range s.routes {
		for _, u := range r.peer.LeafNodeURLs {
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
	urls := s.leafURLs()
	s.mu.Lock()
	var leaves []*leaf
	for _, l := range s.leafs.conns {
		if !l.toHub {
			leaves = append(leaves, l)
		}
	}
	s.mu.Unlock()
	for _, l := range leaves {
		s.sendLeafURLs(l, urls)
	}
}

// sendLeafURLs sends leaf connection l an INFO with urls.
func (s *Server) sendLeafURLs(l *leaf, urls []string) {
	info := s.leafInfoFor(l.cid, nil, !l.plain)
	info.LeafNodeURLs, info.InfoOnConnect = urls, false
	b, _ := json.Marshal(&info)
	l.enqueue(append(append([]byte("INFO "), b...), crlf...))
}

// learnedURLs keeps the hub URLs a remote learned from INFO.
type learnedURLs struct {
	mu   sync.Mutex
	urls []*url.URL
}

// learn records the host:port list an INFO gave, with the scheme and
// credentials of the URL the connection was dialed with.
func (r *leafRemote) learn(hostports []string, via *url.URL) {
	if via.Scheme != "nats" && via.Scheme != "nats-leaf" && via.Scheme != "tls" {
		return // the URLs are of the TCP leaf listeners, not WebSocket or QUIC ones
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
