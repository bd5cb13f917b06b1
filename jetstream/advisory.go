package jetstream

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nuid"
)

// Advisories and metrics, published in the engine's account with
// nats-server's subjects and JSON (server/jetstream_events.go). They go
// out with the batch's other output, after the store is flushed; when the
// connection can tell (Interester), an advisory nobody subscribes to is
// not built.

// The advisory subjects (a stream and consumer name follow).
const (
	advStreamCreated   = "$JS.EVENT.ADVISORY.STREAM.CREATED."
	advStreamDeleted   = "$JS.EVENT.ADVISORY.STREAM.DELETED."
	advStreamUpdated   = "$JS.EVENT.ADVISORY.STREAM.UPDATED."
	advConsumerCreated = "$JS.EVENT.ADVISORY.CONSUMER.CREATED."
	advConsumerDeleted = "$JS.EVENT.ADVISORY.CONSUMER.DELETED."
	advMaxDeliveries   = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
	advAPIAudit        = "$JS.EVENT.ADVISORY.API"
	metricConsumerAck  = "$JS.EVENT.METRIC.CONSUMER.ACK."
)

// The event types.
const (
	typeStreamAction   = "io.nats.jetstream.advisory.v1.stream_action"
	typeConsumerAction = "io.nats.jetstream.advisory.v1.consumer_action"
	typeMaxDeliver     = "io.nats.jetstream.advisory.v1.max_deliver"
	typeAPIAudit       = "io.nats.jetstream.advisory.v1.api_audit"
	typeConsumerAck    = "io.nats.jetstream.metric.v1.consumer_ack"
)

// The actions of stream and consumer advisories.
const (
	actionCreate = "create"
	actionDelete = "delete"
	actionModify = "modify"
)

// TypedEvent heads every advisory (nats-server TypedEvent).
type TypedEvent struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"timestamp"`
}

func typed(t string) TypedEvent { return TypedEvent{Type: t, ID: nuid.Next(), Time: time.Now().UTC()} }

// StreamActionAdvisory says a stream was created, updated or deleted.
type StreamActionAdvisory struct {
	TypedEvent
	Stream string `json:"stream"`
	Action string `json:"action"`
	Domain string `json:"domain,omitempty"`
}

// ConsumerActionAdvisory says a consumer was created or deleted.
type ConsumerActionAdvisory struct {
	TypedEvent
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	Action   string `json:"action"`
	Domain   string `json:"domain,omitempty"`
}

// MaxDeliverAdvisory says a message was delivered max_deliver times
// without an ack and will not be delivered again.
type MaxDeliverAdvisory struct {
	TypedEvent
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Domain     string `json:"domain,omitempty"`
}

// ConsumerAckMetric is a sampled ack (the consumer's sample_freq): how
// long after its delivery the message was acknowledged.
type ConsumerAckMetric struct {
	TypedEvent
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq"`
	StreamSeq   uint64 `json:"stream_seq"`
	Delay       int64  `json:"ack_time"` // nanoseconds
	Deliveries  uint64 `json:"deliveries"`
	Domain      string `json:"domain,omitempty"`
}

// APIAudit reports one answered API request. Client carries only the
// account: an internal delivery does not say which connection sent it.
type APIAudit struct {
	TypedEvent
	Server   string       `json:"server"`
	Client   *AuditClient `json:"client"`
	Subject  string       `json:"subject"`
	Request  string       `json:"request,omitempty"`
	Response string       `json:"response"`
	Domain   string       `json:"domain,omitempty"`
}

// AuditClient is the requester in an APIAudit (nats-server ClientInfo,
// of which Murmur fills the account and the kind).
type AuditClient struct {
	Account string `json:"acc,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

// heard reports whether an advisory on subject would reach anybody.
func (e *Engine) heard(subject string) bool {
	if e.ops.interest == nil {
		if i, ok := e.conn.(Interester); ok {
			e.ops.interest = i.HasInterest
		} else {
			e.ops.interest = func(string) bool { return true }
		}
	}
	return e.ops.interest(subject)
}

// advise queues v as JSON on subject, when anybody listens.
func (e *Engine) advise(subject string, v func() any) {
	if !e.heard(subject) {
		return
	}
	b, err := json.Marshal(v())
	if err != nil {
		return
	}
	e.out = append(e.out, output{subject: subject, data: b})
}

func (e *Engine) adviseStream(stream, action string) {
	subj := advStreamCreated
	switch action {
	case actionDelete:
		subj = advStreamDeleted
	case actionModify:
		subj = advStreamUpdated
	}
	e.advise(subj+stream, func() any {
		return StreamActionAdvisory{TypedEvent: typed(typeStreamAction), Stream: stream, Action: action, Domain: e.ops.domain}
	})
}

func (e *Engine) adviseConsumer(stream, consumer, action string) {
	subj := advConsumerCreated
	if action == actionDelete {
		subj = advConsumerDeleted
	}
	e.advise(subj+stream+"."+consumer, func() any {
		return ConsumerActionAdvisory{TypedEvent: typed(typeConsumerAction), Stream: stream, Consumer: consumer, Action: action, Domain: e.ops.domain}
	})
}

// maxDeliverAdvisory is the output telling that c gave up on stream
// sequence seq after count deliveries. The consumer state machine calls
// it, so it carries no interest check: the multiplexor drops it when
// nobody subscribes.
func maxDeliverAdvisory(c *consumer, seq, count uint64) output {
	b, _ := json.Marshal(MaxDeliverAdvisory{
		TypedEvent: typed(typeMaxDeliver), Stream: c.stream.cfg.Name, Consumer: c.name,
		StreamSeq: seq, Deliveries: count,
	})
	return output{subject: advMaxDeliveries + c.stream.cfg.Name + "." + c.name, data: b}
}

// sampleFreq reads a consumer's sample_freq ("50", "50%") as a
// percentage; 0 when unset or unreadable.
func sampleFreq(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// sampleAck publishes the ack metric for an ack of stream sequence seq
// when c samples acks (sample_freq) and picks this one. Call it before
// the ack is applied, while the delivery is still pending. As in
// nats-server, a +TERM or a -NAK is not sampled.
func (e *Engine) sampleAck(c *consumer, seq uint64, kind string, now time.Time) {
	switch kind {
	case "+ACK", "+NXT":
	default:
		return
	}
	freq := sampleFreq(c.cfg.SampleFrequency)
	if freq <= 0 || freq < 100 && rand.IntN(100) > freq {
		return
	}
	p := c.state.Pending[seq]
	if p == nil {
		return
	}
	subj := metricConsumerAck + c.stream.cfg.Name + "." + c.name
	e.advise(subj, func() any {
		m := ConsumerAckMetric{
			TypedEvent: typed(typeConsumerAck), Stream: c.stream.cfg.Name, Consumer: c.name,
			ConsumerSeq: p.CSeq, StreamSeq: seq, Deliveries: p.Count, Domain: e.ops.domain,
		}
		if p.Sent > 0 {
			m.Delay = now.UnixNano() - p.Sent
		}
		return m
	})
}

// auditAPI publishes the API audit of request m, answered with the last
// queued output (its reply).
func (e *Engine) auditAPI(m *inMsg) {
	if len(e.out) == 0 || e.out[len(e.out)-1].subject != m.reply {
		return
	}
	resp := e.out[len(e.out)-1].data
	e.advise(advAPIAudit, func() any {
		return APIAudit{
			TypedEvent: typed(typeAPIAudit), Server: e.cfg.ServerName,
			Client:  &AuditClient{Account: e.account, Kind: "Client"},
			Subject: m.subject, Request: string(m.data), Response: string(resp), Domain: e.ops.domain,
		}
	})
}
