package monitor

import (
	"fmt"
	"sort"
	"strings"

	"github.com/murmurmq/murmur/broker"
)

// Health is the one definition of "healthy" that /healthz, the $SYS
// HEALTHZ request and the live page (which shows /healthz) share:
//
//   - healthy (status "ok", HTTP 200): this broker accepts and serves
//     clients. It is not starting, shutting down or in lame-duck mode.
//   - unavailable (HTTP 503): it does not, and Error says why.
//
// Cluster members that are down are Warnings, not a failure: a probe that
// failed on a peer's death would have an orchestrator restart the healthy
// brokers too. A member counts as down when gossip reports it suspect or
// dead and no alive member has replaced it, that is, no alive member
// carries its server name or its gossip address (a broker restarted with
// the same name or address). Members that left gracefully are not down.
func (m *Server) Health() (*Healthz, int) {
	err := m.b.Health()
	if err == nil && m.closing.Load() {
		err = broker.ErrShuttingDown
	}
	var warnings []string
	if m.gossip != nil {
		if down := DownMembers(m.gossip.Members()); len(down) > 0 {
			warnings = []string{downWarning(down)}
		}
	}
	if err != nil {
		return &Healthz{Status: "unavailable", StatusCode: 503, Error: err.Error(), Warnings: warnings}, 503
	}
	return &Healthz{Status: "ok", Warnings: warnings}, 200
}

// DownMembers returns the members that are suspect or dead and not
// replaced (see markReplaced), ordered by server name.
func DownMembers(members []Member) []Member {
	members = markReplaced(members)
	var down []Member
	for _, mb := range members {
		if (mb.State == StateSuspect || mb.State == StateDead) && !mb.Replaced {
			down = append(down, mb)
		}
	}
	sort.Slice(down, func(i, j int) bool { return serverName(down[i]) < serverName(down[j]) })
	return down
}

// markReplaced returns a copy of members with Replaced set on every
// member that is not alive (and did not leave) while an alive member
// carries its server name (Meta "name", else the member name) or its
// gossip address: the broker restarted, and its successor is alive.
func markReplaced(members []Member) []Member {
	aliveNames, aliveAddrs := map[string]bool{}, map[string]bool{}
	for _, mb := range members {
		if mb.State == StateAlive {
			aliveNames[serverName(mb)] = true
			aliveAddrs[mb.Address] = true
		}
	}
	out := make([]Member, len(members))
	for i, mb := range members {
		if mb.State != StateAlive && mb.State != StateLeft &&
			(aliveNames[serverName(mb)] || (mb.Address != "" && aliveAddrs[mb.Address])) {
			mb.Replaced = true
		}
		out[i] = mb
	}
	return out
}

// serverName is the broker's server name as gossiped, else the member
// name.
func serverName(mb Member) string {
	if n := mb.Meta["name"]; n != "" {
		return n
	}
	return mb.Name
}

// downWarning is the one-line warning for down members:
// "2 cluster members down: b (dead), c (suspect)".
func downWarning(down []Member) string {
	parts := make([]string, 0, len(down))
	for i, mb := range down {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(down)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", serverName(mb), mb.State))
	}
	noun := "members"
	if len(down) == 1 {
		noun = "member"
	}
	return fmt.Sprintf("%d cluster %s down: %s", len(down), noun, strings.Join(parts, ", "))
}
