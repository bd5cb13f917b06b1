package jetstream

import (
	"fmt"

	"github.com/murmurmq/murmur/pubsub"
	"github.com/murmurmq/murmur/transform"
)

// A stream's subject_transform maps the subject of every message it
// takes in before the message is stored, as nats-server does; mirrors
// and sources use the same form for each of their subject_transforms.
// The mapping itself is package transform's (the subject mappings of
// accounts use it too).

// SubjectTransformConfig is a subject transform: messages whose subject
// matches src ("" for all) are stored under dest.
type SubjectTransformConfig struct {
	Source      string `json:"src"`
	Destination string `json:"dest"`
}

// subjectTransform is a compiled SubjectTransformConfig. A nil
// *subjectTransform maps every subject to itself.
type subjectTransform struct {
	src string
	tr  *transform.Transform // nil: dest empty, the subject is kept
}

// compileTransform checks and compiles c as nats-server's
// NewSubjectTransform: an empty src is ">", an empty dest keeps the
// subject.
func compileTransform(c SubjectTransformConfig) (*subjectTransform, error) {
	src := c.Source
	if src == "" {
		src = ">"
	}
	if !pubsub.ValidSubject(src) {
		return nil, fmt.Errorf("%w %s", transform.ErrInvalidSubject, c.Source)
	}
	st := &subjectTransform{src: src}
	if c.Destination == "" {
		return st, nil
	}
	tr, err := transform.Parse(src, c.Destination)
	if err != nil {
		return nil, err
	}
	st.tr = tr
	return st, nil
}

// match reports whether subject is the transform's to map, and what it
// maps to.
func (t *subjectTransform) match(subject string) (string, bool) {
	if t == nil {
		return subject, true
	}
	if t.src != ">" && t.src != subject && !pubsub.SubjectMatches(t.src, subject) {
		return subject, false
	}
	if t.tr == nil {
		return subject, true
	}
	return t.tr.Subject(subject), true
}

// transformSubject is the subject a message published on subject is
// stored under.
func (s *stream) transformSubject(subject string) string {
	out, _ := s.tr.match(subject)
	return out
}

// checkStreamTransform checks a stream's subject_transform with
// nats-server's errors (10155 for the source, 10156 for the rest).
func checkStreamTransform(c *SubjectTransformConfig) *APIError {
	if c == nil {
		return nil
	}
	if c.Source != "" && !pubsub.ValidSubject(c.Source) {
		return errStreamTransformSource.with("err", fmt.Sprintf("%v %s", transform.ErrInvalidSubject, c.Source))
	}
	if _, err := compileTransform(*c); err != nil {
		return errStreamTransformDest.with("err", err.Error())
	}
	return nil
}

// compile builds what a stream derives from its configuration: the
// subject transform, the republish transform and the sources.
func (s *stream) compile() error {
	s.tr, s.rp = nil, nil
	if c := s.cfg.SubjectTransform; c != nil && c.Destination != "" {
		tr, err := compileTransform(*c)
		if err != nil {
			return err
		}
		s.tr = tr
	}
	if c := s.cfg.RePublish; c != nil {
		tr, err := compileTransform(SubjectTransformConfig{Source: c.Source, Destination: c.Destination})
		if err != nil {
			return err
		}
		s.rp = tr
	}
	return s.compileSources()
}
