package broker

// SetJetStream says whether the server runs JetStream: nats-server's
// "jetstream" flag in the INFO every client gets and in the "server"
// block of system responses. Set it before Start so the first clients
// see it.
func (s *Server) SetJetStream(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info.JetStream = on
}

// jetStreamOn reports what SetJetStream set.
func (s *Server) jetStreamOn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.JetStream
}

// HasInterest reports whether any subscription in the client's account
// (local, from routes or leaf nodes, or an import) matches the literal
// subject: JetStream builds an advisory only when someone listens, and
// delivers to a push consumer only while its deliver subject has interest
// (nats-server's account sublist match, routes and leaves included).
func (c *InternalClient) HasInterest(subject string) bool {
	r := c.acc.mux.Match([]byte(subject))
	return len(r.Plain) > 0 || len(r.Queues) > 0
}

// HasQueueInterest is HasInterest narrowed as nats-server narrows a push
// consumer's interest (registerNotification with its deliver_group):
// with queue "", plain subscriptions only; else members of that queue
// group only.
func (c *InternalClient) HasQueueInterest(subject, queue string) bool {
	r := c.acc.mux.Match([]byte(subject))
	if queue == "" {
		return len(r.Plain) > 0
	}
	for _, g := range r.Queues {
		if g.Name == queue {
			return true
		}
	}
	return false
}
