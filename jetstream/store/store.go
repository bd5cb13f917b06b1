// Package store keeps a stream's messages: in memory or in append-only
// segment files (docs/jetstream.md has the file format). A store is used
// by one goroutine at a time (the JetStream engine's); it does no locking.
package store

import (
	"errors"
)

// ErrNotFound is returned for a sequence or subject with no message.
var ErrNotFound = errors.New("store: no message found")

// Msg is one stored message.
type Msg struct {
	Subject string
	Hdr     []byte
	Data    []byte
	Seq     uint64
	Time    int64 // unix nanoseconds
}

// Size is the bytes a message counts for against max_bytes, as
// nats-server counts them (subject, headers, data and 16 bytes of
// overhead).
func Size(subject string, hdr, data []byte) uint64 {
	return uint64(len(subject) + len(hdr) + len(data) + 16)
}

// State summarises a store.
type State struct {
	Msgs      uint64
	Bytes     uint64
	FirstSeq  uint64
	LastSeq   uint64
	FirstTime int64
	LastTime  int64
	Subjects  int    // distinct subjects
	Deleted   uint64 // interior gaps between FirstSeq and LastSeq
}

// Store is a stream's message log. Sequences start at 1 and only grow; a
// removed message leaves a gap. Every method runs on the caller's
// goroutine and returns when its effect is visible to later calls; Flush
// makes appended records reach the operating system (they survive the
// process being killed), Sync makes them reach the disk.
type Store interface {
	// Append stores a message with the next sequence and returns it.
	Append(subject string, hdr, data []byte, ts int64) (uint64, error)
	// Skip assigns the next n sequences to no message and returns the
	// last of them (a gap; at the front it moves the first sequence).
	Skip(n uint64) (uint64, error)
	// Load returns the message at seq, or ErrNotFound.
	Load(seq uint64) (*Msg, error)
	// Next returns the first message with sequence >= seq whose subject
	// matches filter ("" or ">" for any), or ErrNotFound.
	Next(seq uint64, filter string) (*Msg, error)
	// Last returns the last message whose subject matches filter.
	Last(filter string) (*Msg, error)
	// Remove deletes the message at seq; false when there was none.
	Remove(seq uint64) (bool, error)
	// Purge removes the messages matching subject ("" for all) with
	// sequence < upto (0: no bound), keeping the last keep of them (0:
	// none kept). It returns how many it removed.
	Purge(subject string, upto, keep uint64) (uint64, error)
	// SubjectCount is how many messages subject (literal) has.
	SubjectCount(subject string) uint64
	// FirstFor returns the first sequence stored for literal subject.
	FirstFor(subject string) (uint64, bool)
	// Subjects returns the count per subject matching filter.
	Subjects(filter string) map[string]uint64
	// State summarises the store.
	State() State
	// Flush hands buffered records to the operating system.
	Flush() error
	// Sync flushes and fsyncs.
	Sync() error
	// Close flushes, syncs and releases the store's files.
	Close() error
	// Delete closes the store and removes everything it keeps.
	Delete() error
}
