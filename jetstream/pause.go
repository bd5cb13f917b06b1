package jetstream

import (
	"time"
)

// Pausing a consumer ($JS.API.CONSUMER.PAUSE.<stream>.<consumer>, or
// pause_until in the config it is created with) stops its deliveries,
// push and pull, until pause_until; a zero or past time resumes it at
// once. Pull requests keep waiting (and get their heartbeats and
// timeouts) while it is paused. pause_until is kept in the consumer's
// config (and so on disk); a create or update of an existing consumer
// does not change it, as in nats-server.

type pauseRequest struct {
	PauseUntil time.Time `json:"pause_until,omitempty"`
}

type pauseResponse struct {
	Type           string        `json:"type"`
	Paused         bool          `json:"paused"`
	PauseUntil     time.Time     `json:"pause_until"`
	PauseRemaining time.Duration `json:"pause_remaining,omitempty"`
}

// paused reports whether the consumer sends nothing at now.
func (c *consumer) paused(now time.Time) bool {
	return c.cfg.PauseUntil != nil && now.Before(*c.cfg.PauseUntil)
}

func (c *consumer) pauseInfo(ci *ConsumerInfo) {
	if now := time.Now(); c.paused(now) {
		ci.Paused, ci.PauseRemaining = true, c.cfg.PauseUntil.Sub(now)
	}
}

func (e *Engine) pauseConsumer(streamName, name string, body []byte, now time.Time) any {
	var req pauseRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	_, c, ae := e.lookup(streamName, name)
	if ae != nil {
		return ae
	}
	until := req.PauseUntil.UTC()
	var old time.Time
	if c.cfg.PauseUntil != nil {
		old = *c.cfg.PauseUntil
	}
	if until.IsZero() {
		c.cfg.PauseUntil = nil
	} else {
		c.cfg.PauseUntil = &until
	}
	if err := saveConsumerMeta(c); err != nil {
		return errConsumerStoreFailed.with("err", err.Error())
	}
	if !old.Equal(until) {
		e.advisePause(c, now) // as nats-server: only when it changed
	}
	resp := pauseResponse{Type: typeConsumerPause, PauseUntil: until}
	if c.paused(now) {
		resp.Paused, resp.PauseRemaining = true, until.Sub(now)
	} else {
		e.out = c.deliver(now, e.out) // resumed
	}
	return resp
}
