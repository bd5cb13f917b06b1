package broker

import "github.com/murmurmq/murmur/mux"

// Scope says where an internal subscription's interest is told. A
// service that runs on every broker of a cluster and answers its own
// broker's clients (clustered JetStream's API entry) must not draw the
// other brokers' requests over routes, and the traffic such services
// exchange between brokers must not leak over leaf connections into
// another cluster.
type Scope uint8

const (
	// ScopeAll tells routes and leaf connections, as a client's
	// subscription does (Subscribe).
	ScopeAll Scope = iota
	// ScopeNoRoutes tells leaf connections only: the subscription gets
	// what this broker's clients and leaf connections publish, never a
	// message from another broker of the cluster.
	ScopeNoRoutes
	// ScopeRoutes tells routes only: the subscription gets what this
	// broker and the other brokers of its cluster publish, never a
	// message from across a leaf connection.
	ScopeRoutes
)

func (c *InternalClient) setScopeLocked(id int, scope Scope) {
	if scope == ScopeAll {
		return
	}
	if c.scopes == nil {
		c.scopes = map[int]Scope{}
	}
	c.scopes[id] = scope
}

// scopedInterest is localInterest told only where scope says.
func (s *Server) scopedInterest(acc *account, sub *mux.Sub, delta int, scope Scope) {
	if s.interest != nil && scope != ScopeNoRoutes {
		s.interest.changed(acc.name, sub, delta)
	}
	if li := s.leafs.interest; li != nil && scope != ScopeRoutes {
		li.local(acc.name, sub.Subject, sub.Queue, delta)
	}
}

// AwaitRoutes returns once every broker this one has a live route to has
// applied everything this broker sent it before the call (interest
// changes and messages), or after the interest barrier's bound (2 s)
// when a route does not answer; at once without routes. It blocks: call
// it from a goroutine of the service's own, never from a handler.
func (c *InternalClient) AwaitRoutes() { c.srv.awaitRoutes() }

// Clustered reports whether the server accepts and dials routes.
func (s *Server) Clustered() bool { return s.opts.Cluster != nil }
