package jetstream

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// The directory: which broker owns which stream. Each broker's Cluster
// publishes its own streams and their subjects on $MJSC.<acc>.ALL.DIR every
// heartbeat and after each create, update or delete, and keeps what the
// others publish; a broker not heard of for PeerExpiry is gone, and so
// are its streams.

type peer struct {
	name    string
	streams map[string][]string
	seen    time.Time
}

// dirMsg is a directory announcement.
type dirMsg struct {
	Server  string              `json:"server"`
	Name    string              `json:"name,omitempty"`
	Streams map[string][]string `json:"streams"`
}

// pendingChange is a create, update or delete the engine is answering:
// its answer goes to reply once the other brokers know the new directory.
type pendingChange struct {
	reply string
	since time.Time
}

// refreshLocal reads this broker's streams from the engine.
func (c *Cluster) refreshLocal() {
	var local map[string][]string
	err := c.e.call(func() {
		local = make(map[string][]string, len(c.e.streams))
		for n, s := range c.e.streams {
			local[n] = slices.Clone(s.cfg.Subjects)
		}
	})
	if err == nil {
		c.local = local
		c.syncStreamSubs()
	}
}

func (c *Cluster) announce() {
	if b, err := json.Marshal(dirMsg{Server: c.cfg.ServerID, Name: c.cfg.ServerName, Streams: c.local}); err == nil {
		c.conn.PublishCluster(c.all+clusterDir, "", nil, b)
	}
}

// publishJSON answers a client, in the account.
func (c *Cluster) publishJSON(subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.conn.Publish(subject, "", "", nil, b)
}

// heard applies another broker's announcement. A broker heard of for the
// first time is answered with this one's, so a newcomer learns the
// directory within a round trip instead of a heartbeat.
func (c *Cluster) heard(data []byte) {
	var d dirMsg
	if json.Unmarshal(data, &d) != nil || d.Server == "" || d.Server == c.cfg.ServerID {
		return
	}
	p := c.peers[d.Server]
	if p == nil {
		p = &peer{}
		c.peers[d.Server] = p
		c.log.Info("JetStream peer joined", zap.String("peer", d.Name), zap.Int("streams", len(d.Streams)))
		defer c.announce()
	}
	p.name, p.streams, p.seen = d.Name, d.Streams, time.Now()
}

func (c *Cluster) expirePeers(now time.Time) {
	for id, p := range c.peers {
		if now.Sub(p.seen) > c.cfg.PeerExpiry {
			delete(c.peers, id)
			c.log.Info("JetStream peer gone", zap.String("peer", p.name), zap.Int("streams", len(p.streams)))
		}
	}
}

// ownerOf returns the id of the other broker that owns stream name, ""
// when it is this broker's or nobody's. Should two brokers hold one name
// (created at once on both, see docs), the lowest id is asked.
func (c *Cluster) ownerOf(name string) string {
	if _, ok := c.local[name]; ok {
		return ""
	}
	owner := ""
	for _, id := range slices.Sorted(maps.Keys(c.peers)) {
		if _, ok := c.peers[id].streams[name]; ok {
			owner = id
			break
		}
	}
	return owner
}

// remoteOverlap refuses a create or update whose subjects overlap a
// stream of another broker (10065), as the engine does for its own.
func (c *Cluster) remoteOverlap(name string, body []byte) *APIError {
	cfg, ae := parseStreamConfig(name, body)
	if ae != nil {
		return nil // the engine answers the bad request
	}
	for _, p := range c.peers {
		for n, subjects := range p.streams {
			if n != name && collides(subjects, cfg.Subjects) {
				return errSubjectOverlap
			}
		}
	}
	return nil
}

// holdAnswer returns the reply subject the engine answers a stream
// create, update or delete on, so that the answer reaches the client
// only after the directory change has reached every broker (changed).
func (c *Cluster) holdAnswer(reply string) string {
	c.next++
	id := c.self + "R." + strconv.FormatUint(c.next, 10)
	c.creates[id] = pendingChange{reply: reply, since: time.Now()}
	return id
}

// changed takes the engine's answer to a held create, update or delete:
// it announces the directory, waits until every routed broker has it
// (and the interest in the stream's subjects, sent before), then passes
// the answer on. A client that is answered can use the stream from any
// broker at once.
func (c *Cluster) changed(m *inMsg) {
	p, ok := c.creates[m.subject]
	if !ok {
		return
	}
	delete(c.creates, m.subject)
	c.refreshLocal()
	c.announce()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.conn.AwaitRoutes()
		c.conn.Publish(p.reply, "", "", m.hdr, m.data)
	}()
}
