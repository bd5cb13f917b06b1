package monitor_test

import (
	"strings"
	"testing"

	"github.com/murmurmq/murmur/monitor"
)

// TestDownMembers: a suspect or dead member is down unless an alive one
// carries its server name or its gossip address; a member that left is
// never down.
func TestDownMembers(t *testing.T) {
	members := []monitor.Member{
		{Name: "a", Address: "10.0.0.1:4248", State: monitor.StateAlive, Local: true},
		// b restarted with the same name (a new id as memberlist name).
		{Name: "NOLD", Address: "10.0.0.2:4248", State: monitor.StateDead, Meta: map[string]string{"name": "b"}},
		{Name: "NNEW", Address: "10.0.0.2:4248", State: monitor.StateAlive, Meta: map[string]string{"name": "b"}},
		// c restarted at the same address under another name.
		{Name: "c", Address: "10.0.0.3:4248", State: monitor.StateDead},
		{Name: "c2", Address: "10.0.0.3:4248", State: monitor.StateAlive},
		{Name: "d", Address: "10.0.0.4:4248", State: monitor.StateDead},
		{Name: "e", Address: "10.0.0.5:4248", State: monitor.StateSuspect},
		{Name: "f", Address: "10.0.0.6:4248", State: monitor.StateLeft},
	}
	var got []string
	for _, mb := range monitor.DownMembers(members) {
		got = append(got, mb.Name)
	}
	if strings.Join(got, ",") != "d,e" {
		t.Fatalf("down members %v, want d,e", got)
	}
}

// TestHealthzWarnings: down members are warnings in /healthz, which stays
// 200; with every member alive there are none.
func TestHealthzWarnings(t *testing.T) {
	srv := startBroker(t, "health")
	m := startMonitor(t, srv, monitor.Config{Gossip: fakeCluster{}})
	var h monitor.Healthz
	getJSON(t, client(t), m, "/healthz", &h)
	if h.Status != "ok" || len(h.Warnings) != 1 || h.Warnings[0] != "1 cluster member down: c (suspect)" {
		t.Fatalf("/healthz %+v, want ok with one warning about c", h)
	}
	alive := monitor.GossipFunc(func() []monitor.Member {
		return []monitor.Member{{Name: "a", State: monitor.StateAlive, Local: true}, {Name: "b", State: monitor.StateLeft}}
	})
	m2 := startMonitor(t, srv, monitor.Config{Gossip: alive})
	h = monitor.Healthz{}
	getJSON(t, client(t), m2, "/healthz", &h)
	if h.Status != "ok" || len(h.Warnings) != 0 {
		t.Fatalf("/healthz %+v, want ok without warnings", h)
	}
}

// TestGossipzMarksReplaced: /gossipz flags the dead entry of a broker that
// came back (same server name, or same gossip address), and only that,
// so the live page reads the same verdict as /healthz.
func TestGossipzMarksReplaced(t *testing.T) {
	srv := startBroker(t, "replaced")
	members := monitor.GossipFunc(func() []monitor.Member {
		return []monitor.Member{
			{Name: "a", Address: "10.0.0.1:4248", State: monitor.StateAlive, Local: true},
			{Name: "NOLD", Address: "10.0.0.2:4248", State: monitor.StateDead, Meta: map[string]string{"name": "b"}},
			{Name: "NNEW", Address: "10.0.0.9:4248", State: monitor.StateAlive, Meta: map[string]string{"name": "b"}},
			{Name: "c", Address: "10.0.0.3:4248", State: monitor.StateDead},
			{Name: "c2", Address: "10.0.0.3:4248", State: monitor.StateAlive},
			{Name: "d", Address: "10.0.0.4:4248", State: monitor.StateDead},
		}
	})
	m := startMonitor(t, srv, monitor.Config{Gossip: members})
	c := client(t)
	var gz monitor.Gossipz
	getJSON(t, c, m, "/gossipz", &gz)
	var replaced []string
	for _, mb := range gz.Members {
		if mb.Replaced {
			replaced = append(replaced, mb.Name)
		}
	}
	if strings.Join(replaced, ",") != "NOLD,c" {
		t.Fatalf("replaced %v, want NOLD,c", replaced)
	}
	var h monitor.Healthz
	getJSON(t, c, m, "/healthz", &h)
	if len(h.Warnings) != 1 || h.Warnings[0] != "1 cluster member down: d (dead)" {
		t.Fatalf("/healthz warnings %q", h.Warnings)
	}
}
