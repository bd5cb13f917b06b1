package node

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Errors returned by the Node, compared with errors.Is.
var (
	// ErrClosed: the node is closing or closed.
	ErrClosed = errors.New("node: closed")
	// ErrTooManyUnconfirmed: the unconfirmed set stayed full (MaxUnconfirmed)
	// until the send's context ended.
	ErrTooManyUnconfirmed = errors.New("node: too many unconfirmed messages")
	// ErrNotAcked: a Data was not acked after MaxRedeliveries redeliveries.
	ErrNotAcked = errors.New("node: not acknowledged")
	// ErrAbandoned: Close gave up a Data before it was confirmed.
	ErrAbandoned = errors.New("node: abandoned unconfirmed")
	// ErrNoPeer: no live peer could ack the Data: with RequirePeer, the
	// target of a Direct is not a live peer, or a Broadcast has none; at
	// Close, a direct's target is gone or was never heard (with
	// ErrAbandoned).
	ErrNoPeer = errors.New("node: no live peer to ack it")
	// ErrInvalidID: a node ID is not one subject token.
	ErrInvalidID = errors.New("node: invalid node id")
)

// SendError reports a Data that will not be confirmed, on Errors.
type SendError struct {
	Seq  uint64
	Kind Kind
	// To is the target of a direct message; empty for a broadcast.
	To string
	// Missing lists the peers that never acked a broadcast.
	Missing []string
	// Attempts is how many times it was sent (first send included).
	Attempts int
	// Err is ErrNotAcked or ErrAbandoned (with ErrNoPeer when Close gave up
	// a direct whose target is not a live peer).
	Err error
}

// Error describes the failure.
func (e *SendError) Error() string {
	if e.Kind == KindDirect {
		return fmt.Sprintf("node: direct seq %d to %s failed after %d sends: %v", e.Seq, e.To, e.Attempts, e.Err)
	}
	return fmt.Sprintf("node: broadcast seq %d failed after %d sends, unacked by %v: %v", e.Seq, e.Attempts, e.Missing, e.Err)
}

// Unwrap returns Err.
func (e *SendError) Unwrap() error { return e.Err }

// Stats is a snapshot of a node's counters (the seed system's NodeState).
// Counts of seqs, not of NATS messages: one Ack message may ack many seqs.
type Stats struct {
	// DataSent counts Data originated here: one per Direct or Broadcast
	// call, redeliveries not included.
	DataSent uint64 `json:"data_sent"`
	// DataReceived counts Data handed to the application (duplicates not
	// included).
	DataReceived uint64 `json:"data_received"`
	// AckSent counts seqs acked by this node, re-acks of duplicates included
	// (a seq delivered twice before its ack went out is acked once).
	AckSent uint64 `json:"ack_sent"`
	// AckReceived counts seqs acked to this node (for its current session).
	AckReceived uint64 `json:"ack_received"`
	// Unconfirmed is the size of the unconfirmed set now.
	Unconfirmed int `json:"unconfirmed"`
	// Redelivered counts resends (timeouts and reconnects).
	Redelivered uint64 `json:"redelivered"`
	// Failed counts Data given up: not acked in time, or abandoned by Close.
	Failed uint64 `json:"failed"`
	// DuplicatesDropped counts received Data already seen.
	DuplicatesDropped uint64 `json:"duplicates_dropped"`
	// Malformed counts messages on the SDK's subjects that did not decode.
	Malformed uint64 `json:"malformed"`
	// Peers is the number of live peers now.
	Peers int `json:"peers"`
}

// counters are the live values behind Stats; each add also goes to Metrics.
type counters struct {
	m                                            Metrics
	dataSent, dataReceived, ackSent, ackReceived atomic.Uint64
	redelivered, failed, duplicates, malformed   atomic.Uint64
}

func (c *counters) add(v *atomic.Uint64, name string, delta int) {
	v.Add(uint64(delta))
	c.m.Count(name, int64(delta))
}
