package jetstream

// An account's JetStream limits, as nats-server's JetStreamAccountLimits
// (accounts { A: { jetstream: { max_mem, max_file, max_streams,
// max_consumers, max_ack_pending, max_bytes_required, ... } } }). -1 is
// no limit; 0 allows none. They are enforced with nats-server's codes:
// 10027 streams, 10026 consumers, 10121 max_ack_pending, 10113
// max_bytes_required, 10122 per-stream bytes, 10028/10047 when a stream's
// max_bytes does not fit what is left, 10002 when a message would pass
// the account's bytes.

// The limit errors, with nats-server's codes and texts.
var (
	errAccountResources  = apiErr(400, 10002, "resource limits exceeded for account")
	errNotEnabledAccount = apiErr(503, 10039, "JetStream not enabled for account")
	errMaxStreams        = apiErr(400, 10027, "maximum number of streams reached")
	errMaxConsumers      = apiErr(400, 10026, "maximum consumers limit reached")
	errMaxAckPending     = apiErr(400, 10121, "consumer max ack pending exceeds system limit of {limit}")
	errMaxBytesRequired  = apiErr(400, 10113, "account requires a stream config to have max bytes set")
	errMaxStreamBytes    = apiErr(400, 10122, "stream max bytes exceeds account limit max stream bytes")
	defaultMaxAckPending = 1000
)

// SetLimits sets the account's limits. Call it before Start.
func (e *Engine) SetLimits(l AccountLimits) {
	e.ops.limits = &l
	e.usage.accMem, e.usage.accStore, e.usage.limited = l.MaxMemory, l.MaxStore, true
}

// UpdateLimits changes the limits of a running engine (a config
// reload). Streams and consumers over a new limit stay; new ones are
// refused.
func (e *Engine) UpdateLimits(l AccountLimits) error {
	return e.call(func() { e.SetLimits(l) })
}

// reserved sums the max_bytes of the streams of one storage type (the
// bytes they may grow to), leaving out the stream named skip.
func (e *Engine) reserved(storage, skip string) int64 {
	var n int64
	for name, s := range e.streams {
		if name != skip && s.cfg.Storage == storage && s.cfg.MaxBytes > 0 {
			n += s.cfg.MaxBytes
		}
	}
	return n
}

// admitStream checks a stream's configuration (defaults applied) against
// the limits: a new stream (update false) against the number of streams,
// any against the bytes it reserves.
func (e *Engine) admitStream(cfg *StreamConfig, update bool) *APIError {
	l := e.accountLimits()
	if !update && l.MaxStreams >= 0 && len(e.streams) >= l.MaxStreams {
		return errMaxStreams
	}
	if l.MaxBytesRequired && cfg.MaxBytes <= 0 {
		return errMaxBytesRequired
	}
	maxStream, accMax, srvMax, exceeded := l.StoreMaxStream, l.MaxStore, e.cfg.MaxStore, errStorageExceeded
	if cfg.Storage == "memory" {
		maxStream, accMax, srvMax, exceeded = l.MemoryMaxStream, l.MaxMemory, e.cfg.MaxMemory, errMemoryExceeded
	}
	if cfg.MaxBytes <= 0 {
		return nil
	}
	if maxStream > 0 && cfg.MaxBytes > maxStream {
		return errMaxStreamBytes
	}
	res := e.reserved(cfg.Storage, cfg.Name) + cfg.MaxBytes
	// The server's reservations are every account's: this stream's own
	// (on an update) makes way for its new max_bytes.
	srvRes := e.usage.srv.reserved(cfg.Storage) + cfg.MaxBytes
	if old := e.streams[cfg.Name]; update && old != nil && old.cfg.Storage == cfg.Storage {
		srvRes -= reservation(&old.cfg)
	}
	if accMax >= 0 && res > accMax || srvMax > 0 && srvRes > srvMax {
		return exceeded
	}
	return nil
}

// consumerDefaults applies the account's max_ack_pending to a consumer's
// configuration before the defaults are filled (the default is the
// smaller of 1000 and the limit) and refuses one above the limit.
func (e *Engine) consumerDefaults(cfg *ConsumerConfig) *APIError {
	l := e.accountLimits()
	if l.MaxAckPending <= 0 {
		return nil
	}
	if cfg.MaxAckPending == 0 && cfg.AckPolicy != "none" {
		cfg.MaxAckPending = min(defaultMaxAckPending, l.MaxAckPending)
	}
	if cfg.MaxAckPending > l.MaxAckPending {
		return errMaxAckPending.with("limit", l.MaxAckPending)
	}
	return nil
}

// admitConsumer checks a new consumer against the account's number of
// consumers (over all its streams).
func (e *Engine) admitConsumer() *APIError {
	l := e.accountLimits()
	if l.MaxConsumers < 0 {
		return nil
	}
	n := 0
	for _, s := range e.streams {
		n += len(s.consumers)
	}
	if n >= l.MaxConsumers {
		return errMaxConsumers
	}
	return nil
}
