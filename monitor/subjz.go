package monitor

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/murmurmq/murmur/broker"
)

// pathSubjz serves the top subjects. Murmur only, so it lives under
// /murmur/, where no nats-server endpoint will ever be.
const pathSubjz = "/murmur/subjz"

// Subjz defaults and bounds: subjects per account, and in all.
const (
	subjzDefaultLimit = 20
	subjzMaxLimit     = 100
)

// SubjectSource supplies /murmur/subjz and the live page's top subjects.
// *broker.Server implements it (broker/subjects.go): TopSubjects returns
// up to perAccount subjects of each account by estimated publish rate,
// highest first, from sampled publishes; it must return promptly.
type SubjectSource interface {
	TopSubjects(perAccount int) []broker.SubjectRate
}

var _ SubjectSource = (*broker.Server)(nil)

// Subjz is the /murmur/subjz document: the subjects this broker's clients
// publish to most, by estimated rate. The estimate comes from sampling
// one in SampleEvery published messages into a bounded summary per
// account over the last WindowSeconds; the system account is never
// listed. Enabled is false when the broker does not sample
// (subject_sampling: false).
type Subjz struct {
	ID            string        `json:"server_id"`
	Name          string        `json:"server_name"`
	Now           time.Time     `json:"now"`
	Enabled       bool          `json:"enabled"`
	SampleEvery   int           `json:"sample_every"`
	WindowSeconds float64       `json:"window_seconds"`
	Subjects      []SubjectRate `json:"subjects"`
}

// SubjectRate is one subject's estimated publish rate.
type SubjectRate struct {
	Account string  `json:"account"`
	Subject string  `json:"subject"`
	Rate    float64 `json:"msgs_per_sec"`
}

// Subjz returns the top subjects, at most limit (default 20, at most 100)
// in all and per account.
func (m *Server) Subjz(limit int) *Subjz {
	if limit <= 0 {
		limit = subjzDefaultLimit
	}
	limit = min(limit, subjzMaxLimit)
	sz := &Subjz{
		ID: m.b.ID(), Name: m.b.Name(), Now: nowUTC(),
		SampleEvery: broker.SubjectSampleEvery, WindowSeconds: broker.SubjectWindow.Seconds(),
		Subjects: []SubjectRate{},
	}
	src, ok := m.b.(SubjectSource)
	if !ok {
		return sz
	}
	sz.Enabled = !m.b.Options().NoSubjectSampling
	for _, r := range src.TopSubjects(limit) {
		if len(sz.Subjects) == limit {
			break
		}
		sz.Subjects = append(sz.Subjects, SubjectRate{Account: r.Account, Subject: r.Subject, Rate: r.Rate})
	}
	return sz
}

// serveSubjz answers /murmur/subjz?limit=N.
func (m *Server) serveSubjz(ctx *fasthttp.RequestCtx) {
	limit, err := decodeInt(ctx.QueryArgs(), "limit")
	if err != nil {
		m.writeError(ctx, err)
		return
	}
	m.writeJSON(ctx, 200, m.Subjz(limit))
}
