package jetstream

// accountUsage is the account's stored bytes against its limits.
type accountUsage struct {
	mem, store       int64
	maxMem, maxStore int64 // the server's limits; <= 0: no limit
	// accMem, accStore are the account's own limits (accounts {
	// A: { jetstream: { max_mem, max_file } } }) when limited is set;
	// < 0: no limit.
	accMem, accStore int64
	limited          bool
}

// admit refuses a message of size that would pass the storage limit:
// the account's (10002), then the server's (10028, 10047).
func (u *accountUsage) admit(storage string, size uint64) *APIError {
	if storage == "memory" {
		if u.limited && u.accMem >= 0 && u.mem+int64(size) > u.accMem {
			return errAccountResources
		}
		if u.maxMem > 0 && u.mem+int64(size) > u.maxMem {
			return errMemoryExceeded
		}
		return nil
	}
	if u.limited && u.accStore >= 0 && u.store+int64(size) > u.accStore {
		return errAccountResources
	}
	if u.maxStore > 0 && u.store+int64(size) > u.maxStore {
		return errStorageExceeded
	}
	return nil
}

func (u *accountUsage) add(storage string, delta int64) {
	if storage == "memory" {
		u.mem += delta
	} else {
		u.store += delta
	}
}
