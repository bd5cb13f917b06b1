package gossip

import "sync/atomic"

// Faults is a switch for cutting one node's gossip traffic in tests. Put a
// *Faults in Config.Faults before New; the node's transport then consults it
// for every packet and stream:
//
//   - Partition drops all traffic to and from the node: outgoing UDP
//     packets are discarded as if lost, outgoing TCP dials fail, incoming
//     packets are discarded and incoming TCP connections are closed.
//   - DropInbound / DropOutbound cut one direction only, which models a node
//     that can send but not receive (memberlist#45).
//   - Heal restores everything.
//
// Streams that are already open when the switch flips are left alone;
// memberlist's streams are short-lived (one push/pull or fallback ping).
// A Faults may be shared by several nodes to cut them together; the zero
// value passes everything. All methods are safe for concurrent use.
type Faults struct {
	dropIn  atomic.Bool
	dropOut atomic.Bool
	dropped atomic.Int64
}

// NewFaults returns a switch that passes all traffic.
func NewFaults() *Faults { return &Faults{} }

// Partition drops all gossip traffic to and from the node.
func (f *Faults) Partition() {
	f.dropIn.Store(true)
	f.dropOut.Store(true)
}

// Heal restores all gossip traffic.
func (f *Faults) Heal() {
	f.dropIn.Store(false)
	f.dropOut.Store(false)
}

// DropInbound sets whether incoming packets and connections are dropped.
func (f *Faults) DropInbound(drop bool) { f.dropIn.Store(drop) }

// DropOutbound sets whether outgoing packets and dials are dropped.
func (f *Faults) DropOutbound(drop bool) { f.dropOut.Store(drop) }

// Partitioned reports whether traffic is cut in either direction.
func (f *Faults) Partitioned() bool { return f.dropIn.Load() || f.dropOut.Load() }

// Dropped returns how many packets and connections have been dropped so far.
func (f *Faults) Dropped() int64 { return f.dropped.Load() }

// in reports whether an incoming packet or connection must be dropped, and
// counts it. A nil *Faults drops nothing.
func (f *Faults) in() bool {
	if f == nil || !f.dropIn.Load() {
		return false
	}
	f.dropped.Add(1)
	return true
}

// out is in for outgoing traffic.
func (f *Faults) out() bool {
	if f == nil || !f.dropOut.Load() {
		return false
	}
	f.dropped.Add(1)
	return true
}
