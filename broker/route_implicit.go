package broker

import (
	"encoding/json"
	"net"

	"go.uber.org/zap"
)

// Implicit routes, as nats-server's: a broker tells each route of the
// brokers it has other routes to, so brokers that were given one
// configured route each (a chain, a star) learn the rest and form the full
// mesh the one-hop forwarding needs. Each route's handshake carries the
// sender's route_url (the address peers dial); after the handshake a
// broker sends, over its routes, `INFO {"routes":[...]}` naming peers by
// server id and route URL: to a new route every peer it already has, and to
// every older route the new peer. What a broker learns goes to the route
// learner (cluster.Static), which dials it. See docs/routes.md.

// peerRoute names a broker a route can be dialed to.
type peerRoute struct {
	ID  string `json:"server_id"`
	URL string `json:"route_url"`
}

// routeGossip is the post-handshake INFO on a route.
type routeGossip struct {
	Routes []peerRoute `json:"routes"`
}

// SetRouteLearner sets fn to be told of every broker a route names that
// this broker has no route to; nil stops it. fn runs on a route's reader
// and must not block.
func (s *Server) SetRouteLearner(fn func(id, url string)) {
	s.mu.Lock()
	s.routeLearner = fn
	s.mu.Unlock()
}

// localRouteURL is the route address this broker tells peers to dial: the
// advertised one, else the bound listener (whose unspecified host the
// receiver replaces with the address it sees, see peerRouteURL).
func (s *Server) localRouteURL() string {
	if a := s.opts.Cluster.Advertise; a != "" {
		return a
	}
	if a := s.RouteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// peerRouteURL is the address to dial peer at: its route_url, with an
// unspecified host (a listener on 0.0.0.0 or [::]) replaced by the IP the
// route connection nc reaches it at, or "" when it sent none.
func peerRouteURL(peer *routeInfo, nc net.Conn) string {
	host, port, err := net.SplitHostPort(peer.RouteURL)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		ra, ok := nc.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return ""
		}
		host = ra.IP.String()
	}
	return net.JoinHostPort(host, port)
}

// announceRoute tells the new route c of the brokers this one has other
// routes to, and those routes of c's broker.
func (s *Server) announceRoute(c *route) {
	s.mu.Lock()
	var others []peerRoute
	var olds []*route
	for id, r := range s.routes {
		if r == c {
			continue
		}
		olds = append(olds, r)
		if r.peerURL != "" {
			others = append(others, peerRoute{ID: id, URL: r.peerURL})
		}
	}
	s.mu.Unlock()
	if len(others) > 0 {
		c.sendRouteGossip(others)
	}
	if c.peerURL == "" {
		return
	}
	for _, r := range olds {
		r.sendRouteGossip([]peerRoute{{ID: c.peer.ID, URL: c.peerURL}})
	}
}

func (c *route) sendRouteGossip(peers []peerRoute) {
	b, err := json.Marshal(routeGossip{Routes: peers})
	if err != nil {
		return
	}
	c.enqueue(append(append([]byte("INFO "), b...), crlf...))
}

// RouteInfo handles a post-handshake INFO: the peers it names that this
// broker has no route to go to the route learner.
func (c *route) RouteInfo(arg []byte) error {
	var g routeGossip
	if err := json.Unmarshal(arg, &g); err != nil {
		c.log.Info("route INFO not understood; ignored", zap.Error(err))
		return nil
	}
	s := c.srv
	s.mu.Lock()
	learn := s.routeLearner
	var news []peerRoute
	for _, p := range g.Routes {
		if p.ID != "" && p.URL != "" && p.ID != s.id && s.routes[p.ID] == nil {
			news = append(news, p)
		}
	}
	s.mu.Unlock()
	if learn == nil {
		return nil
	}
	for _, p := range news {
		learn(p.ID, p.URL)
	}
	return nil
}
