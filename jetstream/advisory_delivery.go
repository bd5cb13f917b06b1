package jetstream

import "time"

// The consumer advisories about single deliveries and pauses, as
// nats-server's (server/jetstream_events.go, consumer.go processNak,
// processTerm, sendPauseAdvisoryLocked); a stream and consumer name follow
// each subject.
const (
	advMsgNaked      = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED."
	advMsgTerminated = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED."
	advConsumerPause = "$JS.EVENT.ADVISORY.CONSUMER.PAUSE."

	typeNak           = "io.nats.jetstream.advisory.v1.nak"
	typeTerminated    = "io.nats.jetstream.advisory.v1.terminated"
	typePauseAdvisory = "io.nats.jetstream.advisory.v1.consumer_pause"
)

// DeliveryNakAdvisory says a client naked a delivery.
type DeliveryNakAdvisory struct {
	TypedEvent
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq"`
	StreamSeq   uint64 `json:"stream_seq"`
	Deliveries  uint64 `json:"deliveries"`
	Domain      string `json:"domain,omitempty"`
}

// DeliveryTerminatedAdvisory says a client terminated a delivery (+TERM,
// with the reason it gave): a candidate for dead-letter handling.
type DeliveryTerminatedAdvisory struct {
	TypedEvent
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq"`
	StreamSeq   uint64 `json:"stream_seq"`
	Deliveries  uint64 `json:"deliveries"`
	Reason      string `json:"reason,omitempty"`
	Domain      string `json:"domain,omitempty"`
}

// ConsumerPauseAdvisory says a consumer was paused or resumed (by the
// pause API, or when its pause ran out).
type ConsumerPauseAdvisory struct {
	TypedEvent
	Stream     string    `json:"stream"`
	Consumer   string    `json:"consumer"`
	Paused     bool      `json:"paused"`
	PauseUntil time.Time `json:"pause_until,omitempty"`
	Domain     string    `json:"domain,omitempty"`
}

// adviseAck publishes the advisory of a -NAK (while the delivery is still
// pending, as nats-server checks) or a +TERM (always) of stream sequence
// sseq, given the consumer sequence and delivery count its ack subject
// carries and the text after the kind. Call it before the ack is applied.
func (e *Engine) adviseAck(c *consumer, kind, arg string, sseq, cseq, count uint64) {
	switch kind {
	case "-NAK":
		if c.state.Pending[sseq] == nil {
			return
		}
		e.advise(advMsgNaked+c.stream.cfg.Name+"."+c.name, func() any {
			return DeliveryNakAdvisory{TypedEvent: typed(typeNak), Stream: c.stream.cfg.Name, Consumer: c.name,
				ConsumerSeq: cseq, StreamSeq: sseq, Deliveries: count, Domain: e.ops.domain}
		})
	case "+TERM":
		e.advise(advMsgTerminated+c.stream.cfg.Name+"."+c.name, func() any {
			return DeliveryTerminatedAdvisory{TypedEvent: typed(typeTerminated), Stream: c.stream.cfg.Name, Consumer: c.name,
				ConsumerSeq: cseq, StreamSeq: sseq, Deliveries: count, Reason: arg, Domain: e.ops.domain}
		})
	}
}

// advisePause publishes c's pause state; a pause still to run out is
// advised again when it does (tickPause).
func (e *Engine) advisePause(c *consumer, now time.Time) {
	var until time.Time
	if c.cfg.PauseUntil != nil {
		until = *c.cfg.PauseUntil
	}
	c.resumeAdvice = c.paused(now)
	e.advise(advConsumerPause+c.stream.cfg.Name+"."+c.name, func() any {
		return ConsumerPauseAdvisory{TypedEvent: typed(typePauseAdvisory), Stream: c.stream.cfg.Name, Consumer: c.name,
			Paused: now.Before(until), PauseUntil: until, Domain: e.ops.domain}
	})
}

// tickPause advises the end of c's pause once it has run out.
func (e *Engine) tickPause(c *consumer, now time.Time) {
	if c.resumeAdvice && !c.paused(now) {
		e.advisePause(c, now)
	}
}
