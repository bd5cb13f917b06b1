package jetstream

import (
	"errors"
	"sync/atomic"
	"time"
)

// opsState is the engine's operations side: the account's limits, the
// advisories' settings and the queue of reads (Detail) run on the
// engine's goroutine. Only calls is touched off that goroutine.
type opsState struct {
	// calls carries functions the run goroutine executes between
	// batches, so readers see a consistent state without a lock.
	calls chan func()
	// limits are the account's JetStream limits (-1: none); nil until
	// SetLimits, which means every limit is -1.
	limits *AccountLimits
	// interest, when the connection can tell, reports whether anybody
	// subscribes to an advisory subject, so unheard advisories are not
	// encoded (as nats-server's publishAdvisory).
	interest func(subject string) bool
	// domain is the JetStream domain ("" for none), put in advisories,
	// account info and PubAcks; domainAPI is "$JS.<domain>.API." and
	// apiSub the id of the $JS.API.> subscription its requests join
	// (domain.go).
	domain    string
	domainAPI string
	apiSub    *atomic.Int64
}

func newOpsState(domain string) opsState {
	o := opsState{calls: make(chan func()), domain: domain, apiSub: new(atomic.Int64)}
	if domain != "" {
		o.domainAPI = "$JS." + domain + ".API."
	}
	return o
}

// Interester is what a Conn may also implement: whether a subscription
// in the account matches subject. The broker's internal client does.
type Interester interface {
	HasInterest(subject string) bool
}

// errEngineStopped is returned by a read of an engine that has stopped.
var errEngineStopped = errors.New("jetstream: engine stopped")

// callTimeout bounds how long a read waits for the engine's goroutine.
const callTimeout = 5 * time.Second

// call runs f on the engine's goroutine and waits for it to finish.
func (e *Engine) call(f func()) error {
	done := make(chan struct{})
	g := func() {
		defer close(done)
		f()
	}
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case e.ops.calls <- g:
	case <-e.done:
		return errEngineStopped
	case <-t.C:
		return errors.New("jetstream: engine busy")
	}
	<-done
	return nil
}

// Account is the account this engine serves.
func (e *Engine) Account() string { return e.account }

// accountLimits are the limits in force, with -1 for every one not set.
func (e *Engine) accountLimits() AccountLimits {
	if e.ops.limits != nil {
		return *e.ops.limits
	}
	return NoLimits()
}

// NoLimits are account limits with nothing limited (every field -1).
func NoLimits() AccountLimits {
	return AccountLimits{MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1, MemoryMaxStream: -1, StoreMaxStream: -1}
}
