package jetstream

// accountUsage is the account's stored bytes against its limits.
type accountUsage struct {
	mem, store       int64
	maxMem, maxStore int64        // the server's limits; <= 0: no limit
	srv              *ServerUsage // the server's sums, these bytes included
	// accMem, accStore are the account's own limits (accounts {
	// A: { jetstream: { max_mem, max_file } } }) when limited is set;
	// < 0: no limit.
	accMem, accStore int64
	limited          bool
}

// admit refuses a message of size as nats-server does, in its order: the
// server's limit (max_memory_store / max_file_store) once the server's
// usage, over all accounts, is already past it (so one message may cross it), 10023; then the
// account's limit if this message would pass it, 10002.
func (u *accountUsage) admit(storage string, size uint64) *APIError {
	if storage == "memory" {
		if u.maxMem > 0 && u.srv.stored(storage) > u.maxMem {
			return errInsufficientResources
		}
		if u.limited && u.accMem >= 0 && u.mem+int64(size) > u.accMem {
			return errAccountResources
		}
		return nil
	}
	if u.maxStore > 0 && u.srv.stored(storage) > u.maxStore {
		return errInsufficientResources
	}
	if u.limited && u.accStore >= 0 && u.store+int64(size) > u.accStore {
		return errAccountResources
	}
	return nil
}

func (u *accountUsage) add(storage string, delta int64) {
	u.srv.addStored(storage, delta)
	if storage == "memory" {
		u.mem += delta
	} else {
		u.store += delta
	}
}
