package cluster

import (
	"slices"
	"testing"

	"github.com/murmurmq/murmur/gossip"
)

// TestReconcileRestartedUnderNewID: a broker restarted under the same
// name gets a new server id and takes over its gossip entry, possibly
// before the old process was declared dead, so no Dead event comes for
// the old id. The old id's route is closed and never redialed; the new id
// is dialed.
func TestReconcileRestartedUnderNewID(t *testing.T) {
	named := func(id string) gossip.Member {
		m := member(id)
		m.Name = "edge-2" // the server name is the member name
		return m
	}
	g := newRig(t, "A")
	g.event(gossip.EventJoin, named("C"))
	g.expect([]string{"C"}, none)
	g.b.up("C")
	g.dialed("C", nil)

	// The restarted broker refutes its old entry: an Update with a new id.
	g.event(gossip.EventUpdate, named("D"))
	if closed := g.b.takeClosed(); !slices.Equal(closed, []string{"C"}) {
		t.Fatalf("closed %q on the restart, want the old id C", closed)
	}
	g.expect([]string{"D"}, none)
	g.b.up("D")
	g.dialed("D", nil)
	g.advance(maxBackoff * 4)
	g.expect(none, none) // C is not dialed again

	// A route from the old id that comes back (it was not dead) is closed.
	g.b.up("C")
	g.expect(none, []string{"C"})
}
