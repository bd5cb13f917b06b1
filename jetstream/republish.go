package jetstream

import (
	"time"

	"github.com/murmurmq/murmur/pubsub"
)

// Republish: once a message is stored, a stream with `republish` sends
// a copy to the mapping of its subject (src to dest, as a subject
// transform), with nats-server's headers added to the message's own:
//
//	Nats-Stream, Nats-Subject, Nats-Sequence, Nats-Time-Stamp (RFC 3339),
//	Nats-Last-Sequence (the previous message on the same subject, 0 if
//	none), and with headers_only Nats-Msg-Size instead of the body.

// RePublish is a stream's republish configuration.
type RePublish struct {
	Source      string `json:"src,omitempty"`
	Destination string `json:"dest"`
	HeadersOnly bool   `json:"headers_only,omitempty"`
}

// checkRePublish checks (and defaults) a republish configuration as
// nats-server: src defaults to ">", dest must not be one of the stream's
// subjects (a cycle), and the pair must form a transform. All refusals
// are 10052.
func (c *StreamConfig) checkRePublish() *APIError {
	rp := c.RePublish
	if rp == nil {
		return nil
	}
	if rp.Source == "" {
		rp.Source = ">"
	}
	// '>' to '>' with a transform of the stream's only subject republishes
	// the transformed subjects.
	if rp.Destination == ">" && rp.Source == ">" && c.SubjectTransform != nil &&
		len(c.Subjects) == 1 && c.SubjectTransform.Source == c.Subjects[0] {
		rp.Source, rp.Destination = c.SubjectTransform.Destination, c.SubjectTransform.Destination
	}
	for _, subj := range c.Subjects {
		if pubsub.SubjectsCollide(rp.Destination, subj) {
			return errStreamInvalidConfig.with("err", "stream configuration for republish destination forms a cycle")
		}
	}
	if _, err := compileTransform(SubjectTransformConfig{Source: rp.Source, Destination: rp.Destination}); err != nil || rp.Destination == "" {
		return errStreamInvalidConfig.with("err", "stream configuration for republish with transform from '"+rp.Source+"' to '"+rp.Destination+"' not valid")
	}
	return nil
}

// lastOnSubject is the sequence of the last message stored on subject
// when the stream republishes it (Nats-Last-Sequence), else 0.
func (s *stream) lastOnSubject(subject string) uint64 {
	if s.rp == nil {
		return 0
	}
	if _, ok := s.rp.match(subject); !ok {
		return 0
	}
	if m, err := s.st.Last(subject); err == nil {
		return m.Seq
	}
	return 0
}

// republish appends the copy of a stored message to out when the
// stream's republish takes its subject.
func (s *stream) republish(seq uint64, subject string, hdr, data []byte, ts time.Time, last uint64, out []output) []output {
	if s.rp == nil {
		return out
	}
	dest, ok := s.rp.match(subject)
	if !ok || !pubsub.ValidLiteralSubject(dest) {
		return out
	}
	kv := []string{
		"Nats-Stream", s.cfg.Name,
		"Nats-Subject", subject,
		"Nats-Sequence", itoa(seq),
		"Nats-Time-Stamp", ts.UTC().Format(time.RFC3339Nano),
		"Nats-Last-Sequence", itoa(last),
	}
	body := data
	if s.cfg.RePublish.HeadersOnly {
		kv, body = append(kv, "Nats-Msg-Size", itoa(len(data))), nil
	}
	return append(out, output{subject: dest, hdr: appendHeaders(hdr, kv...), data: body})
}
