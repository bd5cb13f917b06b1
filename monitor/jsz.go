package monitor

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

// JetStream is what the monitor reads of the server's JetStream
// (*jetstream.Service): /jsz, the /varz jetstream block, the
// murmur_jetstream_* metrics and the JSZ system requests. Its methods
// are safe from any goroutine; they wait for each account's engine to
// finish the batch it is applying, never for I/O.
type JetStream interface {
	// Enabled reports whether the server runs JetStream.
	Enabled() bool
	// Jsz is nats-server's /jsz document for opts.
	Jsz(opts jetstream.JszOptions) (*jetstream.JSInfo, error)
	// JszAccount is one account's detail (error: no JetStream there).
	JszAccount(account string, opts jetstream.JszOptions) (*jetstream.AccountDetail, error)
}

var _ JetStream = (*jetstream.Service)(nil)

const pathJsz = "/jsz"

// jszOptions decodes /jsz's query as nats-server's HandleJsz, in its
// order, so the first malformed parameter is the one reported (400).
func jszOptions(args *fasthttp.Args) (jetstream.JszOptions, error) {
	var o jetstream.JszOptions
	var err error
	bools := []struct {
		name string
		dst  *bool
	}{
		{"accounts", &o.Accounts}, {"streams", &o.Streams}, {"consumers", &o.Consumer},
		{"direct-consumers", nil}, {"config", &o.Config},
	}
	for _, b := range bools {
		v, err := decodeBool(args, b.name)
		if err != nil {
			return o, err
		}
		if b.dst != nil {
			*b.dst = v
		}
	}
	if o.Offset, err = decodeInt(args, "offset"); err != nil {
		return o, err
	}
	if o.Limit, err = decodeInt(args, "limit"); err != nil {
		return o, err
	}
	if o.LeaderOnly, err = decodeBool(args, "leader-only"); err != nil {
		return o, err
	}
	if err := decodeBools(args, "raft", "stream-leader-only"); err != nil {
		return o, err
	}
	o.Account = string(args.Peek("acc"))
	return o, nil
}

// Jsz is the /jsz document; without JetStream, nats-server's disabled one.
func (m *Server) Jsz(opts jetstream.JszOptions) (*jetstream.JSInfo, error) {
	if m.cfg.JetStream == nil {
		return &jetstream.JSInfo{ID: m.b.ID(), Now: nowUTC(), Disabled: true}, nil
	}
	return m.cfg.JetStream.Jsz(opts)
}

func (m *Server) serveJsz(ctx *fasthttp.RequestCtx) {
	opts, err := jszOptions(ctx.QueryArgs())
	if err != nil {
		m.writeError(ctx, err)
		return
	}
	jsi, err := m.Jsz(opts)
	if err != nil {
		m.writeError(ctx, err)
		return
	}
	m.writeJSON(ctx, 200, jsi)
}

// JetStreamVarz is the /varz "jetstream" block: the configuration and
// the totals while JetStream runs, {} without it (as nats-server).
type JetStreamVarz struct {
	Config *jetstream.ServerConfig `json:"config,omitempty"`
	Stats  *jetstream.Stats        `json:"stats,omitempty"`
}

func (m *Server) jetStreamVarz() JetStreamVarz {
	js := m.cfg.JetStream
	if js == nil || !js.Enabled() {
		return JetStreamVarz{}
	}
	jsi, err := js.Jsz(jetstream.JszOptions{})
	if err != nil || jsi.Disabled {
		return JetStreamVarz{}
	}
	return JetStreamVarz{Config: &jsi.Config, Stats: &jsi.Stats}
}

// jszRequest answers $SYS.REQ.SERVER.<id|PING>.JSZ with the JSzOptions
// in body; a leader_only request is answered (one broker is its own
// meta leader).
func (m *Server) jszRequest(body []byte) (any, error) {
	var opts jetstream.JszOptions
	if err := unmarshalOpt(body, &opts); err != nil {
		return nil, err
	}
	return m.Jsz(opts)
}

// jszAccountRequest answers $SYS.REQ.ACCOUNT.<acc>.JSZ.
func (m *Server) jszAccountRequest(acc string, body []byte) (any, error) {
	var opts jetstream.JszOptions
	if err := unmarshalOpt(body, &opts); err != nil {
		return nil, err
	}
	if m.cfg.JetStream == nil {
		return nil, errJetStreamOff
	}
	return m.cfg.JetStream.JszAccount(acc, opts)
}

var errJetStreamOff = errors.New("jetstream not enabled")

// addJetStreamEndpoints adds JSZ to the system responder's endpoints.
func (m *Server) addJetStreamEndpoints(srv map[string]broker.SystemHandler, acc map[string]broker.AccountHandler) {
	if srv != nil {
		srv["JSZ"] = m.jszRequest
	}
	if acc != nil {
		acc["JSZ"] = m.jszAccountRequest
	}
}

// jetStreamMetrics writes the murmur_jetstream_* families while
// JetStream runs: the server's totals, then one series per stream and
// per consumer.
func (m *Server) jetStreamMetrics(w *promWriter) {
	js := m.cfg.JetStream
	if js == nil || !js.Enabled() {
		return
	}
	jsi, err := js.Jsz(jetstream.JszOptions{Consumer: true})
	if err != nil || jsi.Disabled {
		return
	}
	w.gauge("murmur_jetstream_memory_bytes", "Bytes stored in memory streams.", float64(jsi.Memory))
	w.gauge("murmur_jetstream_storage_bytes", "Bytes stored in file streams.", float64(jsi.Store))
	w.gauge("murmur_jetstream_reserved_memory_bytes", "Bytes the memory streams' max_bytes reserve.", float64(jsi.ReservedMemory))
	w.gauge("murmur_jetstream_reserved_storage_bytes", "Bytes the file streams' max_bytes reserve.", float64(jsi.ReservedStore))
	w.gauge("murmur_jetstream_max_memory_bytes", "The max_memory_store limit (-1: none).", float64(jsi.Config.MaxMemory))
	w.gauge("murmur_jetstream_max_storage_bytes", "The max_file_store limit (-1: none).", float64(jsi.Config.MaxStore))
	w.gauge("murmur_jetstream_accounts", "Accounts with JetStream.", float64(jsi.Accounts))
	w.gauge("murmur_jetstream_streams", "Streams.", float64(jsi.Streams))
	w.gauge("murmur_jetstream_consumers", "Consumers.", float64(jsi.Consumers))
	w.gauge("murmur_jetstream_messages", "Messages stored, all streams.", float64(jsi.Messages))
	w.gauge("murmur_jetstream_bytes", "Bytes stored, all streams.", float64(jsi.Bytes))
	w.counter("murmur_jetstream_api_requests_total", "JetStream API requests answered.", float64(jsi.API.Total))
	w.counter("murmur_jetstream_api_errors_total", "JetStream API requests answered with an error.", float64(jsi.API.Errors))

	type streamRow struct {
		acc string
		sd  *jetstream.StreamDetail
	}
	var rows []streamRow
	for _, ad := range jsi.AccountDetails {
		for i := range ad.Streams {
			rows = append(rows, streamRow{ad.Name, &ad.Streams[i]})
		}
	}
	perStream := []struct {
		name, help string
		val        func(sd *jetstream.StreamDetail) float64
	}{
		{"murmur_jetstream_stream_messages", "Messages in a stream.", func(sd *jetstream.StreamDetail) float64 { return float64(sd.State.Msgs) }},
		{"murmur_jetstream_stream_bytes", "Bytes in a stream.", func(sd *jetstream.StreamDetail) float64 { return float64(sd.State.Bytes) }},
		{"murmur_jetstream_stream_first_seq", "A stream's first sequence.", func(sd *jetstream.StreamDetail) float64 { return float64(sd.State.FirstSeq) }},
		{"murmur_jetstream_stream_last_seq", "A stream's last sequence.", func(sd *jetstream.StreamDetail) float64 { return float64(sd.State.LastSeq) }},
		{"murmur_jetstream_stream_consumers", "Consumers of a stream.", func(sd *jetstream.StreamDetail) float64 { return float64(sd.State.Consumers) }},
	}
	for _, f := range perStream {
		w.family(f.name, "gauge", f.help)
		for _, r := range rows {
			w.sample(f.name, f.val(r.sd), "account", r.acc, "stream", r.sd.Name)
		}
	}
	perConsumer := []struct {
		name, help string
		val        func(cd *jetstream.ConsumerDetail) float64
	}{
		{"murmur_jetstream_consumer_num_pending", "Messages a consumer has yet to deliver.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.NumPending) }},
		{"murmur_jetstream_consumer_num_ack_pending", "Messages a consumer delivered and awaits acks for.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.NumAckPending) }},
		{"murmur_jetstream_consumer_num_redelivered", "Messages a consumer delivered more than once and awaits acks for.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.NumRedelivered) }},
		{"murmur_jetstream_consumer_num_waiting", "Pull requests waiting at a consumer.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.NumWaiting) }},
		{"murmur_jetstream_consumer_delivered_stream_seq", "The last stream sequence a consumer delivered.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.Delivered.Stream) }},
		{"murmur_jetstream_consumer_ack_floor_stream_seq", "The stream sequence below which a consumer has every ack.", func(cd *jetstream.ConsumerDetail) float64 { return float64(cd.AckFloor.Stream) }},
	}
	for _, f := range perConsumer {
		w.family(f.name, "gauge", f.help)
		for _, r := range rows {
			for _, cd := range r.sd.Consumer {
				w.sample(f.name, f.val(cd), "account", r.acc, "stream", r.sd.Name, "consumer", cd.Name)
			}
		}
	}
}
