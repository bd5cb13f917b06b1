package jetstream

import (
	"time"

	"github.com/murmurmq/murmur/jetstream/store"
)

// replayClock paces a consumer with replay_policy original, push or pull
// (nats-server's loopAndGatherMsgs waits for both): a new message goes out
// no sooner after the previous new one than it was stored after it.
// Redeliveries are not paced. It is not persisted: after a restart the
// first message goes at once.
type replayClock struct {
	lastTs   int64     // stored time of the last new message sent
	lastWall time.Time // when it was sent
}

// due reports whether m may go now.
func (r *replayClock) due(c *consumer, m *store.Msg, redelivery bool, now time.Time) bool {
	if c.cfg.ReplayPolicy != "original" || redelivery || r.lastTs == 0 || m.Time <= r.lastTs {
		return true
	}
	return !now.Before(r.lastWall.Add(time.Duration(m.Time - r.lastTs)))
}

// sent records that m went out at now.
func (r *replayClock) sent(m *store.Msg, redelivery bool, now time.Time) {
	if !redelivery {
		r.lastTs, r.lastWall = m.Time, now
	}
}
