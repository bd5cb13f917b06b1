package jetstream

import (
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/murmurmq/murmur/jetstream/store"
	"github.com/murmurmq/murmur/pubsub"
)

// A push consumer (deliver_subject set) sends its messages to the deliver
// subject on its own, as nats-server's does (server/consumer.go):
//
//   - only while a client on this broker subscribes to the deliver
//     subject (a queue group for deliver_group is one such subscriber);
//   - the message keeps its stream subject and gets the $JS.ACK reply;
//   - with flow_control, after more than half of the window (2 MiB at
//     first, doubling per answer up to 32 MiB) is out unanswered, a
//     "100 FlowControl Request" status with a $JS.FC.<stream>.<consumer>.<id>
//     reply goes to the deliver subject, and delivery stops once the
//     window is out until the client publishes to that reply;
//   - with idle_heartbeat, "100 Idle Heartbeat" with Nats-Last-Consumer
//     and Nats-Last-Stream (and Nats-Consumer-Stalled: <fc reply> while a
//     flow control request is unanswered) when nothing was sent for that
//     long;
//   - rate_limit_bps is a token bucket of the stream's max_msg_size (1 MiB
//     when unset), replay_policy original keeps the stored gaps between
//     new messages, max_ack_pending stops new messages (not redeliveries).

// fcPrefix is where flow control requests are answered.
const fcPrefix = "$JS.FC."

// Flow control window, as nats-server's JsFlowControlMaxPending.
const (
	fcMaxPending = 32 << 20
	fcStart      = fcMaxPending / 16
)

// pushStepBytes bounds what one step of the engine hands a push consumer's
// deliver subject, so a large backlog is read from the store in pieces
// (the next publish, ack or tick goes on), not all into memory at once.
const pushStepBytes = 8 << 20

// defaultRateBurst is the rate limiter's burst when the stream has no
// max_msg_size (nats-server's default max_payload).
const defaultRateBurst = 1 << 20

// pushState is a push consumer's delivery flow. It is not persisted: after
// a restart the window, bucket and heartbeat clock start afresh.
type pushState struct {
	active   bool      // the deliver subject had interest at the last look
	lastSent time.Time // last message or status to the deliver subject

	// Flow control (nats-server's maxpb, pbytes, fcid, fcsz).
	maxpb, pbytes, fcsz int
	fcID                string

	// Rate limit: tokens are bytes, refilled at rate_limit_bps/8 a second.
	tokens   float64
	refilled time.Time
}

func (c *consumer) pushState(now time.Time) *pushState {
	if c.push == nil {
		c.push = &pushState{lastSent: now, refilled: now, tokens: float64(c.rateBurst())}
		if c.cfg.FlowControl {
			c.push.maxpb = fcStart
		}
	}
	return c.push
}

func (c *consumer) rateBurst() int {
	if n := c.stream.cfg.MaxMsgSize; n > 0 {
		return int(n)
	}
	return defaultRateBurst
}

// checkMode applies nats-server's push and pull specific rules
// (checkConsumerCfg) to a defaulted configuration.
func (c *ConsumerConfig) checkMode() *APIError {
	if c.DeliverSubject == "" {
		switch {
		case c.RateLimit > 0:
			return errConsumerPullRateLimit
		case c.Heartbeat > 0:
			return errConsumerHBRequiresPush
		case c.FlowControl:
			return errConsumerFCRequiresPush
		}
		return nil
	}
	switch {
	case pubsub.HasWildcard(c.DeliverSubject):
		return errConsumerDeliverWildcards
	case !pubsub.ValidSubject(c.DeliverSubject):
		return errConsumerBadDeliverSubject
	case c.MaxWaiting != 0:
		return errConsumerPushMaxWaiting
	case c.MaxAckPending > 0 && c.AckPolicy == "none":
		return errConsumerMaxPendingAckNone
	case c.Heartbeat > 0 && c.Heartbeat < 100*time.Millisecond:
		return errConsumerSmallHeartbeat
	case c.FlowControl && c.Heartbeat == 0:
		return errConsumerFCNeedsHeartbeat
	}
	return nil
}

// checkDeliverCycle refuses a deliver subject the stream itself stores.
func checkDeliverCycle(s *stream, c *ConsumerConfig) *APIError {
	if c.DeliverSubject != "" && collides(s.cfg.Subjects, []string{c.DeliverSubject}) {
		return errConsumerDeliverCycle
	}
	return nil
}

// startPush answers a consumer create, then lets a push consumer deliver
// what it already has: the answer goes first, as from nats-server.
func (e *Engine) startPush(reply string, resp any, now time.Time) any {
	ci, ok := resp.(*ConsumerInfo)
	if !ok || ci.Config.DeliverSubject == "" {
		return resp
	}
	e.reply(reply, ci)
	if s := e.streams[ci.Stream]; s != nil {
		if c := s.consumers[ci.Name]; c != nil {
			e.out = c.deliver(now, e.out)
		}
	}
	return nil
}

// deliverPush sends what the consumer may send now to its deliver
// subject.
func (c *consumer) deliverPush(now time.Time, out []output) []output {
	ps := c.pushState(now)
	ps.active = c.bound()
	if !ps.active || c.paused(now) {
		return out
	}
	for step := 0; step < pushStepBytes; {
		if ps.maxpb > 0 && ps.pbytes > ps.maxpb {
			break // waiting for the flow control answer
		}
		full := c.cfg.AckPolicy != "none" && c.cfg.MaxAckPending > 0 && c.unacked() >= c.cfg.MaxAckPending
		if full && len(c.state.Redeliver) == 0 {
			break
		}
		m, redelivery := c.pick()
		if m == nil {
			break
		}
		if full && !redelivery || !ps.admit(c, m, redelivery, now) {
			c.unpick(m, redelivery)
			break
		}
		reply, hdr, data := c.sent(m, redelivery, now)
		out = append(out, output{subject: m.Subject, deliverTo: c.cfg.DeliverSubject, reply: reply, hdr: hdr, data: data})
		size := len(m.Subject) + len(reply) + len(hdr) + len(data)
		step += size
		ps.lastSent = now
		if c.cfg.RateLimit > 0 {
			ps.tokens -= float64(size)
		}
		c.replay.sent(m, redelivery, now)
		if ps.maxpb > 0 {
			ps.pbytes += size
			out = c.flowControl(size, out)
		}
	}
	return out
}

// admit reports whether the rate limit and replay policy let m go now.
func (ps *pushState) admit(c *consumer, m *store.Msg, redelivery bool, now time.Time) bool {
	if bps := c.cfg.RateLimit; bps > 0 {
		burst := float64(c.rateBurst())
		ps.tokens = min(burst, ps.tokens+now.Sub(ps.refilled).Seconds()*float64(bps)/8)
		ps.refilled = now
		if need := min(burst, float64(len(m.Subject)+len(m.Hdr)+len(m.Data))); ps.tokens < need {
			return false
		}
	}
	return c.replay.due(c, m, redelivery, now)
}

// unpick puts back a message pick returned but deliverPush did not send.
func (c *consumer) unpick(m *store.Msg, redelivery bool) {
	if redelivery {
		c.state.Redeliver = append([]uint64{m.Seq}, c.state.Redeliver...)
	}
	// A new message stays next: pick only looked at it.
}

// flowControl sends a flow control request when more than half of the
// window is out unanswered (nats-server's needFlowControl).
func (c *consumer) flowControl(size int, out []output) []output {
	ps := c.push
	if ps.fcID == "" && ps.pbytes > ps.maxpb/2 {
		ps.fcID = fcPrefix + c.stream.cfg.Name + "." + c.name + "." + nuid.Next()[:6]
		ps.fcsz = ps.pbytes
		return append(out, output{subject: c.cfg.DeliverSubject, reply: ps.fcID, hdr: []byte("NATS/1.0 100 FlowControl Request\r\n\r\n")})
	}
	if ps.fcID != "" && ps.pbytes-ps.fcsz >= ps.maxpb {
		ps.fcsz += size
	}
	return out
}

// handleFlowControl applies a client's answer to a flow control request
// ($JS.FC.<stream>.<consumer>.<id>): the window grows and delivery goes on.
func (e *Engine) handleFlowControl(m *inMsg, now time.Time) {
	t := strings.Split(strings.TrimPrefix(m.subject, fcPrefix), ".")
	if len(t) != 3 {
		return
	}
	s := e.streams[t[0]]
	if s == nil {
		return
	}
	c := s.consumers[t[1]]
	if c == nil || c.push == nil || c.push.fcID != m.subject {
		return // not the latest request: ignored, as by nats-server
	}
	ps := c.push
	ps.maxpb = min(ps.maxpb*2, fcMaxPending)
	ps.pbytes = max(ps.pbytes-ps.fcsz, 0)
	ps.fcID, ps.fcsz = "", 0
	e.out = c.deliver(now, e.out)
}

// tickPush follows the deliver subject's interest (an ephemeral push
// consumer without it is inactive) and sends idle heartbeats.
func (c *consumer) tickPush(now time.Time, out []output) []output {
	ps := c.pushState(now)
	ps.active = c.bound()
	if !ps.active {
		return out
	}
	c.active = now
	if hb := c.cfg.Heartbeat; hb > 0 && now.Sub(ps.lastSent) >= hb {
		kv := []string{"Nats-Last-Consumer", itoa(c.state.Delivered.Consumer), "Nats-Last-Stream", itoa(c.state.Delivered.Stream)}
		if ps.fcID != "" {
			kv = append(kv, "Nats-Consumer-Stalled", ps.fcID)
		}
		out = append(out, output{subject: c.cfg.DeliverSubject, hdr: statusMsg(100, "Idle Heartbeat", kv...)})
		ps.lastSent = now
	}
	return out
}

// pushInfo fills push_bound: the deliver subject has a subscriber.
func (c *consumer) pushInfo(ci *ConsumerInfo) {
	if c.cfg.DeliverSubject != "" {
		ci.PushBound = c.bound()
	}
}

// queueInterest is the narrower interest check a Conn may offer
// (broker.InternalClient does).
type queueInterest interface {
	HasQueueInterest(subject, queue string) bool
}

// bound reports whether the deliver subject has interest a push consumer
// delivers to: with a Conn that tells queue groups apart, members of its
// deliver_group, or plain subscribers when it has none (as nats-server's);
// else any subscriber.
func (c *consumer) bound() bool {
	if c.conn == nil {
		return false
	}
	if q, ok := c.conn.(queueInterest); ok {
		return q.HasQueueInterest(c.cfg.DeliverSubject, c.cfg.DeliverGroup)
	}
	return c.conn.HasInterest(c.cfg.DeliverSubject)
}
