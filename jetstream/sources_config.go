package jetstream

import (
	"strings"
	"time"

	"github.com/murmurmq/murmur/pubsub"
)

// The configuration of mirrors and sources (sources.go has what they
// do): nats-server's JSON shapes and its checks, with its error codes.

// StreamSource names a mirror's or a source's origin stream.
type StreamSource struct {
	Name              string                   `json:"name"`
	OptStartSeq       uint64                   `json:"opt_start_seq,omitempty"`
	OptStartTime      *time.Time               `json:"opt_start_time,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
	External          *ExternalStream          `json:"external,omitempty"`
	Consumer          *StreamConsumerSource    `json:"consumer,omitempty"`
}

// ExternalStream is an origin in another account or domain.
type ExternalStream struct {
	APIPrefix     string `json:"api"`
	DeliverPrefix string `json:"deliver"`
}

// StreamConsumerSource is a durable consumer to source through
// (nats-server 2.12); refused.
type StreamConsumerSource struct {
	Name           string `json:"name,omitempty"`
	DeliverSubject string `json:"deliver_subject,omitempty"`
}

// StreamSourceInfo is a mirror's or source's state in stream info.
type StreamSourceInfo struct {
	Name              string                   `json:"name"`
	External          *ExternalStream          `json:"external,omitempty"`
	Lag               uint64                   `json:"lag"`
	Active            time.Duration            `json:"active"`
	Error             *APIError                `json:"error,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
}

const hdrStreamSource = "Nats-Stream-Source"

// maxSourceDepth bounds a chain of streams sourcing each other within
// one store (cycles are refused at creation; this is the backstop).
const maxSourceDepth = 16

// errExternalSource refuses origins outside the account's engine.
var errExternalSource = errStreamInvalidConfig.with("err", "sources and mirrors in another account or domain (external) are not supported by Murmur")

// Errors of mirror and source configurations (nats-server's).
var (
	errMirrorWithSubjects    = apiErr(400, 10034, "stream mirrors can not contain subjects")
	errMirrorWithSources     = apiErr(400, 10031, "stream mirrors can not also contain other sources")
	errMirrorWithFirstSeq    = apiErr(400, 10143, "stream mirrors can not have first sequence configured")
	errMirrorStartSeqTime    = apiErr(400, 10032, "stream mirrors can not have both start seq and start time configured")
	errMirrorMultiFilters    = apiErr(400, 10150, "mirror with multiple subject transforms cannot also have a single subject filter")
	errMirrorBadName         = apiErr(400, 10142, "mirrored stream name is invalid")
	errMirrorBadFilter       = apiErr(400, 10151, "mirror transform source: {err}")
	errMirrorBadTransform    = apiErr(400, 10154, "mirror transform: {err}")
	errMirrorOverlap         = apiErr(400, 10152, "mirror subject filters can not overlap")
	errMirrorMsgSize         = apiErr(400, 10030, "stream mirror must have max message size >= source")
	errMirrorNotUpdatable    = apiErr(400, 10055, "stream mirror configuration can not be updated")
	errSourceBadName         = apiErr(400, 10141, "sourced stream name is invalid")
	errSourceDuplicate       = apiErr(400, 10140, "duplicate source configuration detected")
	errSourceMultiFilters    = apiErr(400, 10144, "source with multiple subject transforms cannot also have a single subject filter")
	errSourceBadFilter       = apiErr(400, 10145, "source transform source: {err}")
	errSourceBadTransform    = apiErr(400, 10146, "source transform: {err}")
	errSourceOverlap         = apiErr(400, 10147, "source filters can not overlap")
	errSourceMsgSize         = apiErr(400, 10046, "stream source must have max message size >= target")
	errSourceConsumer        = errStreamInvalidConfig.with("err", "sourcing through a durable consumer is not supported by Murmur")
	errStreamTransformSource = apiErr(400, 10155, "stream transform source: {err}")
	errStreamTransformDest   = apiErr(400, 10156, "stream transform: {err}")
)

// composeIName is nats-server's index name of a source.
func (ss *StreamSource) composeIName() string {
	src, dest := ss.FilterSubject, ">"
	if src == "" {
		src = ">"
	}
	if len(ss.SubjectTransforms) > 0 {
		var srcs, dests []string
		for _, t := range ss.SubjectTransforms {
			a, b := t.Source, t.Destination
			if a == "" {
				a = ">"
			}
			if b == "" {
				b = ">"
			}
			srcs, dests = append(srcs, a), append(dests, b)
		}
		src, dest = strings.Join(srcs, "\f"), strings.Join(dests, "\f")
	}
	return ss.Name + " " + src + " " + dest
}

// checkTransforms checks an origin's subject transforms; bad and
// badDest wrap the errors, overlap is refused when two sources collide.
func checkTransforms(ts []SubjectTransformConfig, bad, badDest, overlap *APIError, collide func(a, b string) bool) *APIError {
	for i, t := range ts {
		if t.Source != "" && !pubsub.ValidSubject(t.Source) {
			return bad.with("err", "invalid subject "+t.Source)
		}
		if _, err := compileTransform(t); err != nil {
			return badDest.with("err", err.Error())
		}
		for j, u := range ts {
			if i != j && collide(t.Source, u.Source) {
				return overlap
			}
		}
	}
	return nil
}

// checkSources checks mirror and sources as nats-server's
// checkStreamCfg does, without looking at other streams.
func (c *StreamConfig) checkSources() *APIError {
	if m := c.Mirror; m != nil {
		switch {
		case c.FirstSeq > 0:
			return errMirrorWithFirstSeq
		case len(c.Subjects) > 0:
			return errMirrorWithSubjects
		case len(c.Sources) > 0:
			return errMirrorWithSources
		case m.Consumer != nil:
			return errSourceConsumer
		case m.FilterSubject != "" && len(m.SubjectTransforms) > 0:
			return errMirrorMultiFilters
		}
		if e := checkTransforms(m.SubjectTransforms, errMirrorBadFilter, errMirrorBadTransform, errMirrorOverlap, pubsub.SubjectsCollide); e != nil {
			return e
		}
		if m.External != nil {
			return errExternalSource
		}
		if !validName(m.Name) {
			return errMirrorBadName
		}
	}
	seen := map[string]bool{}
	for _, src := range c.Sources {
		if src == nil || !validName(src.Name) {
			return errSourceBadName
		}
		in := src.composeIName()
		if seen[in] {
			return errSourceDuplicate
		}
		seen[in] = true
		if src.FilterSubject != "" && len(src.SubjectTransforms) > 0 {
			return errSourceMultiFilters
		}
		if e := checkTransforms(src.SubjectTransforms, errSourceBadFilter, errSourceBadTransform, errSourceOverlap, pubsub.SubjectIsSubset); e != nil {
			return e
		}
		if src.Consumer != nil {
			return errSourceConsumer
		}
		if src.External != nil {
			return errExternalSource
		}
	}
	return nil
}

// checkOrigins checks a configuration against the streams it takes
// from: message sizes and cycles (nats-server's checks).
func (e *Engine) checkOrigins(cfg *StreamConfig) *APIError {
	if m := cfg.Mirror; m != nil {
		if o := e.streams[m.Name]; o != nil {
			if cfg.MaxMsgSize > 0 && o.cfg.MaxMsgSize > 0 && cfg.MaxMsgSize < o.cfg.MaxMsgSize {
				return errMirrorMsgSize
			}
			cfg.MirrorDirect = o.cfg.AllowDirect
		}
	}
	for _, src := range cfg.Sources {
		if o := e.streams[src.Name]; o != nil && cfg.MaxMsgSize > 0 && o.cfg.MaxMsgSize > 0 && cfg.MaxMsgSize < o.cfg.MaxMsgSize {
			return errSourceMsgSize
		}
	}
	// A cycle: following origins from cfg comes back to a stream already
	// visited (for sources, only when the subjects could flow round).
	visit := []*StreamConfig{cfg}
	seen := map[string]bool{}
	for len(visit) > 0 {
		c := visit[0]
		visit = visit[1:]
		seen[c.Name] = true
		for _, src := range c.Sources {
			if seen[src.Name] {
				if src.FilterSubject == "" || collides(c.Subjects, []string{src.FilterSubject}) {
					return errStreamInvalidConfig.with("err", "detected cycle")
				}
			} else if o := e.streams[src.Name]; o != nil && o.cfg.Name != cfg.Name {
				visit = append(visit, &o.cfg)
			}
		}
		if m := c.Mirror; m != nil {
			if seen[m.Name] {
				return errStreamInvalidConfig.with("err", "detected cycle")
			}
			if o := e.streams[m.Name]; o != nil && o.cfg.Name != cfg.Name {
				visit = append(visit, &o.cfg)
			}
		}
	}
	return nil
}
