package jetstream

import (
	"encoding/json"
	"strconv"
)

// Hand-written encodings for the two things the engine writes per message:
// the PubAck and a delivery's ack subject. Both produce exactly what the
// general path (encoding/json, the $JS.ACK format) would.

// appendPubAck encodes a PubAck without an error as encoding/json does:
// {"stream":"<name>","seq":<n>[,"duplicate":true]}.
func appendPubAck(b []byte, a *PubAck) []byte {
	b = append(b, `{"stream":`...)
	b = appendJSONString(b, a.Stream)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	if a.Duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	if a.Domain != "" {
		b = append(b, `,"domain":`...)
		b = appendJSONString(b, a.Domain)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string the way encoding/json
// writes it (which escapes <, > and & too): plain printable ASCII is
// copied, anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// replyPubAck queues the PubAck for a publish into s.
func (e *Engine) replyPubAck(subject string, ack *PubAck) {
	if ack.Error != nil {
		e.reply(subject, ack)
		return
	}
	e.out = append(e.out, output{subject: subject, data: appendPubAck(make([]byte, 0, 40+len(ack.Stream)), ack)})
}

// ackReply is the reply subject of a delivery, nats-server's v1 form:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>.
func ackReply(stream, consumer string, count, sseq, cseq uint64, ts int64, pending uint64) string {
	b := make([]byte, 0, 8+len(stream)+len(consumer)+5*12)
	b = append(b, "$JS.ACK."...)
	b = append(b, stream...)
	b = append(b, '.')
	b = append(b, consumer...)
	b = append(b, '.')
	b = strconv.AppendUint(b, count, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, sseq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, cseq, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, pending, 10)
	return string(b)
}
