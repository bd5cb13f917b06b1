package gossip

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// State is a member's liveness as seen by the local node.
type State uint8

// Member states. memberlist v0.7.0 keeps its suspect state private (its
// Node.State field is never written), so gossip reports a suspect member
// as alive until it is declared dead.
const (
	StateAlive State = iota + 1
	StateDead
	StateLeft
)

// String returns "alive", "dead" or "left".
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Member is a snapshot of one cluster member.
type Member struct {
	// Name is the memberlist node name (unique in the cluster).
	Name string
	// Addr and Port are the member's advertised gossip address.
	Addr string
	Port int
	// State is alive, dead or left.
	State State
	// Meta is the member's last known metadata.
	Meta Meta
	// MetaSeq counts the member's metadata updates since it started: it
	// grows with every UpdateMeta. memberlist does not expose its
	// incarnation numbers, so this is the closest stand-in for monitoring.
	MetaSeq uint64
	// Leaving is set once the member has announced a graceful leave.
	Leaving bool
	// Local is true for this node itself.
	Local bool
	// Since is when the local node last saw State change.
	Since time.Time
}

// GossipAddr returns "addr:port".
func (m Member) GossipAddr() string {
	return net.JoinHostPort(m.Addr, strconv.Itoa(m.Port))
}

// memberTable is gossip's own view of the cluster, kept from memberlist's
// callbacks. It exists because memberlist.Members() hides dead and left
// nodes and returns pointers into state it mutates under its own lock.
type memberTable struct {
	mu      sync.Mutex
	members map[string]*Member
}

func newMemberTable() *memberTable {
	return &memberTable{members: make(map[string]*Member)}
}

// set stores m and returns the previous entry (zero if none). Since is
// kept when the state did not change. An alive member replaces the dead
// or departed entries of other names at its gossip address: a node
// restarted there under a new name (a broker without a configured server
// name gets a new id each start), whose former self would otherwise stay
// listed as dead for DeadRetention. (Under the same name, m replaces its
// entry in place.)
func (t *memberTable) set(m Member) (prev Member, existed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.State == StateAlive {
		addr := m.GossipAddr()
		for name, e := range t.members {
			if name != m.Name && e.State != StateAlive && e.GossipAddr() == addr {
				delete(t.members, name)
			}
		}
	}
	if p, ok := t.members[m.Name]; ok {
		prev, existed = *p, true
		if p.State == m.State {
			m.Since = p.Since
		}
	}
	m.Meta = m.Meta.clone()
	t.members[m.Name] = &m
	return prev, existed
}

// snapshot returns copies of all members, sorted by name.
func (t *memberTable) snapshot() []Member {
	t.mu.Lock()
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		c := *m
		c.Meta = c.Meta.clone()
		out = append(out, c)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// get returns the member called name.
func (t *memberTable) get(name string) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[name]
	if !ok {
		return Member{}, false
	}
	c := *m
	c.Meta = c.Meta.clone()
	return c, true
}

// deadAddrs returns the gossip addresses of members that died (not left)
// within retention, newest first, at most limit of them.
func (t *memberTable) deadAddrs(retention time.Duration, limit int) []string {
	now := time.Now()
	t.mu.Lock()
	var dead []*Member
	for _, m := range t.members {
		if m.State == StateDead && now.Sub(m.Since) < retention {
			dead = append(dead, m)
		}
	}
	slices.SortFunc(dead, func(a, b *Member) int { return b.Since.Compare(a.Since) })
	var out []string
	for _, m := range dead {
		if len(out) == limit {
			break
		}
		out = append(out, m.GossipAddr())
	}
	t.mu.Unlock()
	return out
}

// aliveAddrs returns the set of "addr:port" of alive members.
func (t *memberTable) aliveAddrs() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.members))
	for _, m := range t.members {
		if m.State == StateAlive {
			out[m.GossipAddr()] = true
		}
	}
	return out
}

// prune forgets members that have been dead or left for longer than
// retention.
func (t *memberTable) prune(retention time.Duration) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, m := range t.members {
		if m.State != StateAlive && now.Sub(m.Since) >= retention {
			delete(t.members, name)
		}
	}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
