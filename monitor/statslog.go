package monitor

import (
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
)

// statsLoop logs one summary line every interval until Close.
func (m *Server) statsLoop(interval time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	prev, prevAt := m.b.Stats(), time.Now()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			cur := m.b.Stats()
			m.log.Info("stats", m.statsFields(prev, cur, now.Sub(prevAt))...)
			prev, prevAt = cur, now
		}
	}
}

// statsFields are the stats line's fields: counts now and rates over the
// last interval.
func (m *Server) statsFields(prev, cur broker.Stats, d time.Duration) []zap.Field {
	secs := d.Seconds()
	if secs <= 0 {
		secs = 1
	}
	rate := func(a, b int64) float64 { return float64(int64(float64(b-a)/secs*10)) / 10 }
	f := []zap.Field{
		zap.Int("conns", cur.Connections),
		zap.Int("subs", cur.Subscriptions),
		zap.Float64("msgs_in_s", rate(prev.InMsgs, cur.InMsgs)),
		zap.Float64("msgs_out_s", rate(prev.OutMsgs, cur.OutMsgs)),
		zap.Float64("bytes_in_s", rate(prev.InBytes, cur.InBytes)),
		zap.Float64("bytes_out_s", rate(prev.OutBytes, cur.OutBytes)),
		zap.Int64("slow_consumers", cur.SlowConsumers),
	}
	if m.routes != nil {
		f = append(f, zap.Int("routes", len(m.routes.Routes())))
	}
	if m.gossip != nil {
		alive := 0
		members := m.gossip.Members()
		for _, mb := range members {
			if mb.State == StateAlive {
				alive++
			}
		}
		f = append(f, zap.Int("members_alive", alive), zap.Int("members", len(members)))
	}
	return f
}
