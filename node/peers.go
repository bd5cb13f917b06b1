package node

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Peer is another live node of the namespace, as seen by its heartbeats.
type Peer struct {
	ID string
	// Session identifies the peer's current incarnation; it changes when
	// the peer restarts under the same ID.
	Session string
	// Joined is when this node first heard the peer; LastSeen its latest
	// heartbeat.
	Joined, LastSeen time.Time
}

// PeerEvent reports a peer joining or leaving.
type PeerEvent struct {
	Peer Peer
	// Left is false for a join, true for a leave (announced or timed out).
	Left bool
}

// peerTable is the live set, pure: the Node passes the time in and holds
// its lock.
type peerTable struct {
	peers   map[string]*Peer
	timeout time.Duration
}

func newPeerTable(timeout time.Duration) *peerTable {
	return &peerTable{peers: make(map[string]*Peer), timeout: timeout}
}

// seen records a heartbeat and reports whether the peer is new.
func (t *peerTable) seen(id, session string, now time.Time) (Peer, bool) {
	if p := t.peers[id]; p != nil {
		p.LastSeen, p.Session = now, session
		return *p, false
	}
	p := &Peer{ID: id, Session: session, Joined: now, LastSeen: now}
	t.peers[id] = p
	return *p, true
}

// leave removes id, reporting whether it was there.
func (t *peerTable) leave(id string) (Peer, bool) {
	p := t.peers[id]
	if p == nil {
		return Peer{}, false
	}
	delete(t.peers, id)
	return *p, true
}

// expire removes and returns peers silent for longer than the timeout.
func (t *peerTable) expire(now time.Time) []Peer {
	var gone []Peer
	for id, p := range t.peers {
		if now.Sub(p.LastSeen) > t.timeout {
			gone = append(gone, *p)
			delete(t.peers, id)
		}
	}
	return gone
}

// ids is the set of live peer IDs (a broadcast's ackers).
func (t *peerTable) ids() map[string]struct{} {
	m := make(map[string]struct{}, len(t.peers))
	for id := range t.peers {
		m[id] = struct{}{}
	}
	return m
}

func (t *peerTable) snapshot() []Peer {
	out := make([]Peer, 0, len(t.peers))
	for _, p := range t.peers {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// watcher forwards peer events to one Watch channel through an unbounded
// queue, so a slow reader never stalls presence handling.
type watcher struct {
	mu     sync.Mutex
	queue  []PeerEvent
	signal chan struct{}
	out    chan PeerEvent
}

func (w *watcher) push(ev PeerEvent) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// run forwards until ctx or done ends, then closes out.
func (w *watcher) run(ctx context.Context, done <-chan struct{}) {
	defer close(w.out)
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range q {
			select {
			case w.out <- ev:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			return
		case <-done:
			return
		}
	}
}
