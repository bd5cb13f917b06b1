package broker

// LearnedLeafURLs lists, for tests, the hub URLs the server's remotes have
// learned from their hubs' INFO (remotes are set in New and never change).
func (s *Server) LearnedLeafURLs() []string {
	var out []string
	for _, r := range s.leafs.remotes {
		r.learned.mu.Lock()
		for _, u := range r.learned.urls {
			out = append(out, u.Host)
		}
		r.learned.mu.Unlock()
	}
	return out
}
