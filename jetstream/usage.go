package jetstream

// accountUsage is the account's stored bytes against its limits.
type accountUsage struct {
	mem, store       int64
	maxMem, maxStore int64 // <= 0: no limit
}

// admit refuses a message of size that would pass the storage limit.
func (u *accountUsage) admit(storage string, size uint64) *APIError {
	if storage == "memory" {
		if u.maxMem > 0 && u.mem+int64(size) > u.maxMem {
			return errMemoryExceeded
		}
		return nil
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
