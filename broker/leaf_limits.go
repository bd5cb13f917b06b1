package broker

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
)

// Leaf connections count against their account's limit on leaf nodes, as
// in nats-server (Account.MaxTotalLeafNodesReached): an account JWT's
// limits.leaf, or a configured account's limits.max_leafnodes
// (Account.MaxLeafNodes). Each end of a leaf connection counts it in the
// account it binds on its side, and the limit holds across a cluster: a
// broker's count goes out in its $SYS.ACCOUNT.<acc>.SERVER.CONNS event
// (leafnodes) as its client count does. A leaf connection that would go
// past the limit is refused with -ERR 'maximum account active connections
// exceeded' (nats-server's ErrTooManyAccountConnections) and closed: on
// the hub, after the leaf's CONNECT, in place of the second INFO; on the
// leaf, towards its hub, once the handshake is done. When another broker's
// count pushes the total over, the newest leaf connections here beyond
// the limit are closed the same way.

// errLeafLimit refuses a leaf connection past its account's limit.
var errLeafLimit = errors.New(proto.ErrTextMaxAccountConns)

// leafLimit is the most leaf connections acc may have (-1: no limit).
func (s *Server) leafLimit(acc *account) int64 {
	if ac := acc.claims.Load(); ac != nil {
		return ac.Limits.LeafNodeConn
	}
	if a := s.o().Auth; a != nil {
		for i := range a.Accounts {
			if c := &a.Accounts[i]; c.Name == acc.name {
				switch {
				case c.MaxLeafNodes > 0:
					return int64(c.MaxLeafNodes)
				case c.MaxLeafNodes < 0:
					return 0
				}
			}
		}
	}
	return -1
}

// leafsOfLocked lists acc's live leaf connections. Caller holds s.mu.
func (s *Server) leafsOfLocked(acc *account) []*leaf {
	var out []*leaf
	for _, l := range s.leafs.conns {
		if l.acc == acc {
			out = append(out, l)
		}
	}
	return out
}

// numLeafsOf is the number of acc's live leaf connections here.
func (s *Server) numLeafsOf(acc *account) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leafsOfLocked(acc))
}

// leafAdmitLocked reports whether one more leaf connection fits acc's
// limit, counting the other brokers'. Caller holds s.mu.
func (s *Server) leafAdmitLocked(acc *account) bool {
	max := s.leafLimit(acc)
	return max < 0 || int64(len(s.leafsOfLocked(acc)))+acc.remote.leafTotal() < max
}

// refuseLeaf tells the peer of a handshaken connection it is past the
// limit and closes it (its goroutines have not started).
func (l *leaf) refuseLeaf(max int64) {
	l.log.Info("leaf node refused: account leaf node limit", zap.String("account", l.acc.name), zap.Int64("limit", max))
	_ = l.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = l.nc.Write(errLine(proto.ErrTextMaxAccountConns))
	l.nc.Close()
}

// leafsOverLimit closes acc's newest leaf connections here beyond its
// limit, after another broker's count changed.
func (s *Server) leafsOverLimit(acc *account) {
	max := s.leafLimit(acc)
	if max < 0 {
		return
	}
	s.mu.Lock()
	ls := s.leafsOfLocked(acc)
	s.mu.Unlock()
	over := int64(len(ls)) + acc.remote.leafTotal() - max
	if over <= 0 {
		return
	}
	slices.SortFunc(ls, func(a, b *leaf) int { return cmp.Compare(b.cid, a.cid) }) // newest first
	for _, l := range ls[:min(int(over), len(ls))] {
		l.log.Info("account leaf node limit reached across the cluster, closing", zap.String("account", acc.name), zap.Int64("limit", max))
		l.sendErr(proto.ErrTextMaxAccountConns)
		l.close(MaxAccountConnectionsExceeded)
	}
}

func (r *remoteConns) leafTotal() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sumCounts(r.leafs)
}
