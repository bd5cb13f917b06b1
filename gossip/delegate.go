package gossip

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// delegate implements the memberlist callbacks gossip needs. memberlist
// calls them from its own goroutines, often while holding its node lock, so
// each one only decodes, updates the member table and queues an event; none
// of them blocks.
type delegate struct {
	name    string // local node name
	cluster string
	meta    atomic.Pointer[[]byte] // encoded local metadata
	table   *memberTable
	queue   *eventQueue
	log     *zap.Logger
	limiter *logLimiter
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.AliveDelegate    = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

// NodeMeta implements memberlist.Delegate. The encoding was checked against
// MaxMetaSize when it was stored.
func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.meta.Load()
	if len(b) > limit {
		// Unreachable while limit is memberlist.MetaMaxSize; never hand
		// memberlist something it would panic on.
		return nil
	}
	return b
}

// NotifyMsg implements memberlist.Delegate; gossip sends no user messages.
func (d *delegate) NotifyMsg([]byte) {}

// GetBroadcasts implements memberlist.Delegate.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate.
func (d *delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin implements memberlist.EventDelegate.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	m := d.member(n, StateAlive)
	d.table.set(m)
	if !m.Local {
		d.queue.push(Event{Type: EventJoin, Member: m})
	}
}

// NotifyUpdate implements memberlist.EventDelegate. The announcement of a
// graceful leave (the leaving flag in the metadata) is recorded but not
// delivered: the Leave event follows.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	m := d.member(n, StateAlive)
	prev, _ := d.table.set(m)
	if m.Local || (m.Leaving && !prev.Leaving) {
		return
	}
	d.queue.push(Event{Type: EventUpdate, Member: m})
}

// NotifyLeave implements memberlist.EventDelegate. memberlist calls it for
// both a graceful leave and a failure and, in v0.7.0, does not fill
// Node.State to tell them apart; Gossip.Leave therefore gossips a leaving
// flag in the metadata first, and the last metadata seen decides.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	m := d.member(n, StateDead)
	typ := EventDead
	if m.Leaving {
		m.State, typ = StateLeft, EventLeave
	}
	d.table.set(m)
	if m.Local {
		return
	}
	if typ == EventDead {
		d.log.Info("gossip: member declared dead", zap.String("member", m.Name), zap.String("addr", m.GossipAddr()))
	} else {
		d.log.Info("gossip: member left", zap.String("member", m.Name))
	}
	d.queue.push(Event{Type: typ, Member: m})
}

// NotifyAlive implements memberlist.AliveDelegate: it refuses any node whose
// metadata does not decode or names another cluster, so it never becomes a
// member. This backs up the memberlist label, which already keeps other
// clusters' packets out.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	return d.check(n, "alive message")
}

// NotifyMerge implements memberlist.MergeDelegate: a push/pull (join or
// anti-entropy) with a node that knows members of another cluster is
// refused as a whole.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if err := d.check(n, "merge"); err != nil {
			return err
		}
	}
	return nil
}

// NotifyConflict implements memberlist.ConflictDelegate: two nodes claim
// the same name from different addresses. memberlist keeps the first.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	if d.limiter.allow("conflict/" + other.Name) {
		d.log.Warn("gossip: node name conflict, ignoring the newcomer; node names must be unique",
			zap.String("name", other.Name),
			zap.String("existing", existing.Address()),
			zap.String("other", other.Address()))
	}
}

// check validates a peer's metadata for NotifyAlive and NotifyMerge.
func (d *delegate) check(n *memberlist.Node, what string) error {
	w, err := decodeMeta(n.Meta)
	if err == nil && w.Cluster != d.cluster {
		err = fmt.Errorf("gossip: node %s belongs to cluster %q, not %q", n.Name, w.Cluster, d.cluster)
	}
	if err != nil {
		if d.limiter.allow("refuse/" + n.Name) {
			d.log.Warn("gossip: refusing node", zap.String("node", n.Name),
				zap.String("addr", n.Address()), zap.String("via", what), zap.Error(err))
		}
		return err
	}
	return nil
}

// member converts a memberlist node. It is called under memberlist's node
// lock, so reading n is safe here and only here.
func (d *delegate) member(n *memberlist.Node, s State) Member {
	w, err := decodeMeta(n.Meta)
	if err != nil && len(n.Meta) > 0 {
		// NotifyAlive refused such nodes; only the local node could get
		// here, and its metadata was encoded by us.
		d.log.Debug("gossip: undecodable metadata", zap.String("member", n.Name), zap.Error(err))
	}
	return Member{
		Name:    n.Name,
		Addr:    net.IP(n.Addr).String(),
		Port:    int(n.Port),
		State:   s,
		Meta:    w.Meta,
		MetaSeq: w.seq,
		Leaving: w.leaving,
		Local:   n.Name == d.name,
		Since:   time.Now(),
	}
}
