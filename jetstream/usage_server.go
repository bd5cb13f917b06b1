package jetstream

import "sync/atomic"

// ServerUsage is what the engines of all accounts on one broker store and
// reserve together. nats-server's max_memory_store and max_file_store
// bound the server, not each account: a publish is refused (10023) once
// the server's stored bytes of its storage type are past the limit, and a
// stream whose max_bytes would take the server's reservations (the
// max_bytes of every account's streams) past it is refused at create or
// update (10028 memory, 10047 file). Engines run on goroutines of their
// own, so the sums are atomic; each engine adds and removes only its own
// share, and takes it all back when it closes.
type ServerUsage struct {
	mem, store       atomic.Int64 // bytes stored
	memRes, storeRes atomic.Int64 // max_bytes reserved by streams
}

// stored is the server's stored bytes of storage.
func (u *ServerUsage) stored(storage string) int64 {
	if storage == "memory" {
		return u.mem.Load()
	}
	return u.store.Load()
}

// reserved is the server's reservations of storage.
func (u *ServerUsage) reserved(storage string) int64 {
	if storage == "memory" {
		return u.memRes.Load()
	}
	return u.storeRes.Load()
}

func (u *ServerUsage) addStored(storage string, delta int64) {
	if storage == "memory" {
		u.mem.Add(delta)
	} else {
		u.store.Add(delta)
	}
}

func (u *ServerUsage) addReserved(storage string, delta int64) {
	if storage == "memory" {
		u.memRes.Add(delta)
	} else {
		u.storeRes.Add(delta)
	}
}

// reservation is what a stream of cfg reserves: its max_bytes, if set.
func reservation(cfg *StreamConfig) int64 { return max(cfg.MaxBytes, 0) }

// release takes the engine's whole share out of the server's sums (the
// engine is closing: its account was removed, or the broker stops).
// Caller holds turn.
func (e *Engine) release() {
	srv := e.usage.srv
	srv.addStored("memory", -e.usage.mem)
	srv.addStored("file", -e.usage.store)
	e.usage.mem, e.usage.store = 0, 0
	for _, s := range e.streams {
		srv.addReserved(s.cfg.Storage, -reservation(&s.cfg))
	}
}
