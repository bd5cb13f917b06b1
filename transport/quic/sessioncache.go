package quic

import "crypto/tls"

// sessionCache is the Dialer's TLS client session cache: an LRU cache
// (tls.NewLRUClientSessionCache) whose Get hands every handshake a copy of
// the cached session.
//
// Why a copy: quic-go writes the session's EarlyData field while it
// resumes it (internal/handshake, on tls.QUICResumeSession), and the LRU
// cache returns the same *ClientSessionState to every caller, so two
// dials to one server at once (a reconnect storm, nats.go's reconnects
// racing a leaf's) would write it concurrently.
type sessionCache struct {
	lru tls.ClientSessionCache
}

func newSessionCache(size int) *sessionCache {
	return &sessionCache{lru: tls.NewLRUClientSessionCache(size)}
}

// Get implements tls.ClientSessionCache.
func (c *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	cs, ok := c.lru.Get(key)
	if !ok || cs == nil {
		return cs, ok
	}
	ticket, st, err := cs.ResumptionState()
	if err != nil || st == nil {
		return nil, false
	}
	b, err := st.Bytes()
	if err != nil {
		return nil, false
	}
	cp, err := tls.ParseSessionState(b)
	if err != nil {
		return nil, false
	}
	out, err := tls.NewResumptionState(ticket, cp)
	if err != nil {
		return nil, false
	}
	return out, true
}

// Put implements tls.ClientSessionCache.
func (c *sessionCache) Put(key string, cs *tls.ClientSessionState) { c.lru.Put(key, cs) }
