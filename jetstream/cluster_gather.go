package jetstream

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Account-level requests ($JS.API.INFO, STREAM.NAMES, STREAM.LIST) from
// this broker's clients are scattered to every broker's Cluster on
// $MJSC.<acc>.ALL.GATHER.<op> (this one's included), each answers its own
// part, and the parts are merged into one answer: the parts of every
// broker in the directory, or those in by the Gather timeout (a broker
// that left answers no more, and its streams are missing from the
// answer).

type gather struct {
	op, reply string
	req       listRequest
	want      map[string]bool // brokers not heard from yet
	parts     []gatherPart
	deadline  time.Time
}

// gatherPart is one broker's part of an account-level answer.
type gatherPart struct {
	Server  string        `json:"server"`
	Info    *AccountInfo  `json:"info,omitempty"`
	Names   []string      `json:"names,omitempty"`
	Streams []*StreamInfo `json:"streams,omitempty"`
}

// scatter starts gathering op for m. It reports false when the request is
// the engine's to answer (a body that does not decode).
func (c *Cluster) scatter(op string, m *inMsg) bool {
	var req listRequest
	if op != "INFO" && decode(m.data, &req) != nil {
		return false
	}
	c.next++
	id := c.self + "G." + strconv.FormatUint(c.next, 10)
	g := &gather{op: op, reply: m.reply, req: req, want: map[string]bool{c.cfg.ServerID: true}, deadline: time.Now().Add(c.cfg.Gather)}
	for pid := range c.peers {
		g.want[pid] = true
	}
	c.gathers[id] = g
	c.conn.PublishCluster(c.all+clusterGather+op, id, nil, m.data)
	return true
}

// answerGather answers another Cluster's (or this one's) gather with this
// broker's part: everything, unpaged; the gatherer pages.
func (c *Cluster) answerGather(op string, m *inMsg) {
	if m.reply == "" {
		return
	}
	var req listRequest
	if decode(m.data, &req) != nil {
		return
	}
	part := gatherPart{Server: c.cfg.ServerID}
	err := c.e.call(func() {
		switch op {
		case "INFO":
			ai := c.e.accountInfo().(AccountInfo)
			part.Info = &ai
		case "STREAM.NAMES":
			for _, s := range c.e.sortedStreams(req.Subject) {
				part.Names = append(part.Names, s.cfg.Name)
			}
		case "STREAM.LIST":
			for _, s := range c.e.sortedStreams(req.Subject) {
				part.Streams = append(part.Streams, s.info("", ""))
			}
		}
	})
	if err != nil {
		return
	}
	if b, err := json.Marshal(part); err == nil {
		c.conn.PublishCluster(m.reply, "", nil, b)
	}
}

func (c *Cluster) gathered(m *inMsg) {
	g := c.gathers[m.subject]
	if g == nil {
		return // late: answered without it
	}
	var part gatherPart
	if json.Unmarshal(m.data, &part) != nil {
		return
	}
	if !g.want[part.Server] && slices.ContainsFunc(g.parts, func(p gatherPart) bool { return p.Server == part.Server }) {
		return
	}
	delete(g.want, part.Server)
	g.parts = append(g.parts, part)
	if len(g.want) == 0 {
		delete(c.gathers, m.subject)
		c.finish(g)
	}
}

func (c *Cluster) expireGathers(now time.Time) {
	for id, g := range c.gathers {
		if now.After(g.deadline) {
			delete(c.gathers, id)
			c.finish(g)
		}
	}
	for id, p := range c.creates {
		if now.Sub(p.since) > callTimeout {
			delete(c.creates, id) // the engine stopped without answering
		}
	}
}

// finish merges the parts and answers the client.
func (c *Cluster) finish(g *gather) {
	// This broker's part first: its limits and domain are the answer's,
	// and of two brokers holding one name, the first part wins.
	slices.SortStableFunc(g.parts, func(a, b gatherPart) int {
		switch {
		case a.Server == c.cfg.ServerID:
			return -1
		case b.Server == c.cfg.ServerID:
			return 1
		}
		return strings.Compare(a.Server, b.Server)
	})
	switch g.op {
	case "INFO":
		var ai *AccountInfo
		for _, p := range g.parts {
			if p.Info == nil {
				continue
			}
			if ai == nil {
				v := *p.Info
				ai = &v
				continue
			}
			ai.Tier.add(&p.Info.Tier)
			ai.API.Total += p.Info.API.Total
			ai.API.Errors += p.Info.API.Errors
			ai.addTiers(p.Info)
		}
		if ai == nil {
			return // not even this broker answered (stopping)
		}
		c.publishJSON(g.reply, ai)
	case "STREAM.NAMES":
		names := []string{}
		seen := map[string]bool{}
		for _, p := range g.parts {
			for _, n := range p.Names {
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
		slices.Sort(names)
		c.publishJSON(g.reply, namesResponse{Type: typeStreamNames, Total: len(names), Offset: g.req.Offset, Limit: 1024, Streams: page(names, g.req.Offset, 1024)})
	case "STREAM.LIST":
		infos := []*StreamInfo{}
		seen := map[string]bool{}
		for _, p := range g.parts {
			for _, si := range p.Streams {
				if !seen[si.Config.Name] {
					seen[si.Config.Name] = true
					infos = append(infos, si)
				}
			}
		}
		slices.SortFunc(infos, func(a, b *StreamInfo) int { return strings.Compare(a.Config.Name, b.Config.Name) })
		c.publishJSON(g.reply, streamListResponse{Type: typeStreamList, Total: len(infos), Offset: g.req.Offset, Limit: 256, Streams: page(infos, g.req.Offset, 256)})
	}
}
