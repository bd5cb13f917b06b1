package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/murmurmq/murmur/jetstream/store"
)

// apiPrefix is where the API listens.
const apiPrefix = "$JS.API."

func parseUint(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }

// decode reads a request body; an empty body leaves v as it is.
func decode(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// reply publishes v as JSON to subject.
func (e *Engine) reply(subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	e.out = append(e.out, output{subject: subject, data: b})
}

type errResponse struct {
	Type  string    `json:"type,omitempty"`
	Error *APIError `json:"error"`
}

type successResponse struct {
	Type    string `json:"type"`
	Success bool   `json:"success"`
	Purged  uint64 `json:"purged,omitempty"`
}

// handleAPI answers one $JS.API request.
func (e *Engine) handleAPI(m *inMsg, now time.Time) {
	if m.reply == "" {
		return
	}
	e.api.Total++
	resp, typ := e.dispatch(strings.TrimPrefix(m.subject, apiPrefix), m, now)
	if resp == nil {
		return // answered already (direct get, pull requests)
	}
	if ae, ok := resp.(*APIError); ok {
		e.api.Errors++
		resp = errResponse{Type: typ, Error: ae}
	}
	e.reply(m.reply, resp)
	e.auditAPI(m)
}

// dispatch routes a request by its subject (without $JS.API.) and returns
// the response, or an *APIError, and the response type.
func (e *Engine) dispatch(op string, m *inMsg, now time.Time) (any, string) {
	if !isAPISubject(op) {
		return nil, "" // nats-server does not answer either
	}
	t := strings.Split(op, ".")
	if len(t) > 2 && (t[1] == "LEADER" || t[1] == "PEER") {
		return replicaRequest(t)
	}
	arg := func(i int) string {
		if i < len(t) {
			return t[i]
		}
		return ""
	}
	switch {
	case op == "INFO":
		return e.accountInfo(), typeAccountInfo
	case arg(0) == "STREAM":
		name := arg(2)
		switch arg(1) {
		case "CREATE":
			return e.createStream(name, m.data, now), typeStreamCreate
		case "UPDATE":
			return e.updateStream(name, m.data, now), typeStreamUpdate
		case "INFO":
			return e.streamInfo(name, m.data), typeStreamInfo
		case "DELETE":
			return e.deleteStream(name), typeStreamDelete
		case "PURGE":
			return e.purgeStream(name, m.data), typeStreamPurge
		case "NAMES":
			return e.streamNames(m.data), typeStreamNames
		case "LIST":
			return e.streamList(m.data), typeStreamList
		case "MSG":
			switch arg(2) {
			case "GET":
				return e.msgGet(arg(3), m.data), typeMsgGet
			case "DELETE":
				return e.msgDelete(arg(3), m.data), typeMsgDelete
			}
		}
	case arg(0) == "DIRECT" && arg(1) == "GET":
		e.directGet(arg(2), strings.Join(t[min(3, len(t)):], "."), m)
		return nil, ""
	case arg(0) == "CONSUMER":
		return e.consumerAPI(t, m, now)
	}
	return nil, "" // not an API subject: nats-server does not answer
}

func (e *Engine) accountInfo() any {
	ai := AccountInfo{
		Type: typeAccountInfo, Domain: e.ops.domain, API: e.api,
		Tier: Tier{
			Memory: uint64(e.usage.mem), Store: uint64(e.usage.store), Streams: len(e.streams),
			ResMemory: uint64(e.reserved("memory", "")), ResStore: uint64(e.reserved("file", "")),
			Limits: e.accountLimits(),
		},
	}
	for _, s := range e.streams {
		ai.Consumers += len(s.consumers)
	}
	e.tierInfo(&ai)
	return ai
}

// parseStreamConfig decodes, defaults and checks a create or update body.
func parseStreamConfig(name string, body []byte) (StreamConfig, *APIError) {
	var cfg StreamConfig
	if err := decodeAPI(body, &cfg); err != nil {
		return cfg, errInvalidJSON.with("err", err.Error())
	}
	if cfg.Name != name { // a missing name too, as nats-server
		return cfg, errStreamMismatch
	}
	cfg.defaults()
	if e := cfg.check(); e != nil {
		return cfg, e
	}
	return cfg, nil
}

// addStream opens a stream's store, subscribes its subjects and adds it.
func (e *Engine) addStream(cfg StreamConfig, created time.Time) (*stream, error) {
	st, dir, err := e.openStore(&cfg)
	if err != nil {
		return nil, err
	}
	s := &stream{cfg: cfg, created: created, st: st, dir: dir, dedup: map[string]uint64{}, consumers: map[string]*consumer{}}
	if err := s.compile(); err != nil {
		st.Close()
		return nil, err
	}
	if err := e.subscribeStream(s); err != nil {
		st.Close()
		return nil, err
	}
	stt := st.State()
	e.usage.add(cfg.Storage, int64(stt.Bytes))
	e.usage.srv.addReserved(cfg.Storage, reservation(&cfg))
	e.streams[cfg.Name] = s
	return s, nil
}

func (e *Engine) subscribeStream(s *stream) error {
	for _, subj := range s.cfg.Subjects {
		id, err := e.conn.Subscribe(subj)
		if err != nil {
			e.unsubscribeStream(s)
			return err
		}
		s.subs = append(s.subs, id)
		e.bySub[id] = s
	}
	return nil
}

func (e *Engine) unsubscribeStream(s *stream) {
	for _, id := range s.subs {
		e.conn.Unsubscribe(id)
		delete(e.bySub, id)
	}
	s.subs = nil
}

func (e *Engine) overlaps(name string, subjects []string) bool {
	for n, o := range e.streams {
		if n != name && collides(o.cfg.Subjects, subjects) {
			return true
		}
	}
	return false
}

func (e *Engine) createStream(name string, body []byte, now time.Time) any {
	cfg, ae := parseStreamConfig(name, body)
	if ae != nil {
		return ae
	}
	if ae := e.checkOrigins(&cfg); ae != nil {
		return ae
	}
	if s := e.streams[name]; s != nil {
		if reflect.DeepEqual(s.cfg, cfg) {
			return s.info(typeStreamCreate, "")
		}
		return errStreamNameExist
	}
	if e.overlaps(name, cfg.Subjects) {
		return errSubjectOverlap
	}
	if ae := e.admitStream(&cfg, false); ae != nil {
		return ae
	}
	s, err := e.addStream(cfg, now.UTC())
	if err != nil {
		return errStreamStoreFailed.with("err", err.Error())
	}
	if err := saveStream(s); err != nil {
		return errStreamStoreFailed.with("err", err.Error())
	}
	if cfg.FirstSeq > 1 {
		s.st.Purge("", cfg.FirstSeq, 0)
	}
	e.streamsChanged(s, now)
	e.adviseStream(name, actionCreate)
	return s.info(typeStreamCreate, "")
}

func (e *Engine) updateStream(name string, body []byte, now time.Time) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	cfg, ae := parseStreamConfig(name, body)
	if ae != nil {
		return ae
	}
	switch {
	case cfg.Storage != s.cfg.Storage:
		return errStreamUpdate.with("err", "stream configuration update can not change storage type")
	case cfg.Retention != s.cfg.Retention && (cfg.Retention == "workqueue" || s.cfg.Retention == "workqueue"):
		return errStreamInvalidConfig.with("err", "stream configuration update can not change retention policy to/from workqueue")
	case cfg.Mirror != nil && !reflect.DeepEqual(cfg.Mirror, s.cfg.Mirror):
		return errMirrorNotUpdatable
	case s.cfg.Sealed && !cfg.Sealed:
		return errStreamUpdate.with("err", "stream configuration update can not unseal a sealed stream")
	case s.cfg.DenyDelete && !cfg.DenyDelete:
		return errStreamUpdate.with("err", "stream configuration update can not cancel deny message deletes")
	case s.cfg.DenyPurge && !cfg.DenyPurge:
		return errStreamUpdate.with("err", "stream configuration update can not cancel deny purge")
	case s.cfg.AllowMsgTTL && !cfg.AllowMsgTTL:
		return errStreamInvalidConfig.with("err", "message TTL status can not be disabled")
	}
	if ae := e.checkOrigins(&cfg); ae != nil {
		return ae
	}
	if e.overlaps(name, cfg.Subjects) {
		return errSubjectOverlap
	}
	if ae := e.admitStream(&cfg, true); ae != nil {
		return ae
	}
	e.unsubscribeStream(s)
	old := s.cfg
	s.cfg = cfg
	if err := e.subscribeStream(s); err != nil {
		s.cfg = old
		e.subscribeStream(s)
		return errStreamUpdate.with("err", err.Error())
	}
	e.usage.srv.addReserved(old.Storage, -reservation(&old))
	e.usage.srv.addReserved(cfg.Storage, reservation(&cfg))
	if err := saveStream(s); err != nil {
		return errStreamUpdate.with("err", err.Error())
	}
	e.adviseStream(name, actionModify)
	for subj := range s.st.Subjects("") {
		s.enforceLimits(subj, &e.usage)
	}
	if err := s.compile(); err != nil {
		return errStreamUpdate.with("err", err.Error())
	}
	if old.Retention != cfg.Retention {
		s.recoverRetention(&e.usage)
	}
	e.streamsChanged(s, now)
	return s.info(typeStreamUpdate, "")
}

func (e *Engine) streamInfo(name string, body []byte) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	var req streamInfoRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	return s.info(typeStreamInfo, req.SubjectsFilter)
}

func (e *Engine) deleteStream(name string) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	e.unsubscribeStream(s)
	for cn := range s.consumers {
		e.deleteConsumer(s, cn)
	}
	e.usage.add(s.cfg.Storage, -int64(s.st.State().Bytes))
	e.usage.srv.addReserved(s.cfg.Storage, -reservation(&s.cfg))
	s.st.Delete()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	delete(e.streams, name)
	for _, f := range s.followers {
		f.originGone(name)
	}
	e.relink()
	e.adviseStream(name, actionDelete)
	return successResponse{Type: typeStreamDelete, Success: true}
}

func (e *Engine) purgeStream(name string, body []byte) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	if s.cfg.Sealed {
		return errSealed
	}
	if s.cfg.DenyPurge {
		return errPurgeFailed.with("err", "stream purge not permitted")
	}
	var req purgeRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	if req.Sequence > 0 && req.Keep > 0 {
		return errBadRequest
	}
	n, err := s.purge(req.Subject, req.Sequence, req.Keep, &e.usage)
	if err != nil {
		return errPurgeFailed.with("err", err.Error())
	}
	for _, c := range s.consumers {
		if first := s.st.State().FirstSeq; c.state.NextSeq < first {
			c.state.NextSeq = first
			c.dirty = true
		}
	}
	return successResponse{Type: typeStreamPurge, Success: true, Purged: n}
}

func (e *Engine) sortedStreams(subject string) []*stream {
	var out []*stream
	for _, s := range e.streams {
		if subject == "" || collides(s.cfg.Subjects, []string{subject}) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cfg.Name < out[j].cfg.Name })
	return out
}

type namesResponse struct {
	Type    string   `json:"type"`
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
	Streams []string `json:"streams"`
}

type streamListResponse struct {
	Type    string        `json:"type"`
	Total   int           `json:"total"`
	Offset  int           `json:"offset"`
	Limit   int           `json:"limit"`
	Streams []*StreamInfo `json:"streams"`
	Missing []string      `json:"missing,omitempty"`
}

func page[T any](all []T, offset, limit int) []T {
	offset = max(offset, 0)
	if offset > len(all) {
		offset = len(all)
	}
	all = all[offset:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

func (e *Engine) streamNames(body []byte) any {
	var req listRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	names := []string{}
	for _, s := range e.sortedStreams(req.Subject) {
		names = append(names, s.cfg.Name)
	}
	return namesResponse{Type: typeStreamNames, Total: len(names), Offset: req.Offset, Limit: 1024, Streams: page(names, req.Offset, 1024)}
}

func (e *Engine) streamList(body []byte) any {
	var req listRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	infos := []*StreamInfo{}
	for _, s := range e.sortedStreams(req.Subject) {
		infos = append(infos, s.info("", ""))
	}
	return streamListResponse{Type: typeStreamList, Total: len(infos), Offset: req.Offset, Limit: 256, Streams: page(infos, req.Offset, 256)}
}

// getMsg finds the message a get request names.
func getMsg(s *stream, req msgGetRequest) (*store.Msg, *APIError) {
	var m *store.Msg
	var err error
	switch {
	case req.LastFor != "":
		m, err = s.st.Last(req.LastFor)
	case req.NextFor != "":
		m, err = s.st.Next(req.Seq, req.NextFor)
	case req.Seq > 0:
		m, err = s.st.Load(req.Seq)
	default:
		return nil, errBadRequest
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoMessageFound
	}
	if err != nil {
		return nil, errStreamStoreFailed.with("err", err.Error())
	}
	return m, nil
}

type msgGetResponse struct {
	Type    string     `json:"type"`
	Message *storedMsg `json:"message"`
}

func (e *Engine) msgGet(name string, body []byte) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	var req msgGetRequest
	if err := decodeAPI(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	m, ae := getMsg(s, req)
	if ae != nil {
		return ae
	}
	return msgGetResponse{Type: typeMsgGet, Message: &storedMsg{Subject: m.Subject, Seq: m.Seq, Header: m.Hdr, Data: m.Data, Time: timeOf(m.Time)}}
}

func (e *Engine) msgDelete(name string, body []byte) any {
	s := e.streams[name]
	if s == nil {
		return errStreamNotFound
	}
	if s.cfg.Sealed {
		return errSealed
	}
	if s.cfg.DenyDelete {
		return errMsgDeleteFailed.with("err", "message delete not permitted")
	}
	var req msgDeleteRequest
	if err := decodeAPI(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	ok, err := s.remove(req.Seq, &e.usage)
	if err != nil {
		return errMsgDeleteFailed.with("err", err.Error())
	}
	if !ok {
		return errSequenceNotFound.with("seq", req.Seq)
	}
	return successResponse{Type: typeMsgDelete, Success: true}
}

// directGet answers $JS.API.DIRECT.GET.<stream>[.<subject>] with the
// message itself and its metadata in headers, or a 404 status.
func (e *Engine) directGet(name, lastBy string, m *inMsg) {
	s := e.streams[name]
	if s == nil || !s.cfg.AllowDirect {
		return // nats-server does not answer: no responders
	}
	var req msgGetRequest
	if lastBy != "" {
		req.LastFor = lastBy
	} else if err := decode(m.data, &req); err != nil {
		e.out = append(e.out, output{subject: m.reply, hdr: statusMsg(408, "Bad Request")})
		return
	}
	msg, ae := getMsg(s, req)
	if ae != nil {
		e.out = append(e.out, output{subject: m.reply, hdr: statusMsg(404, "Message Not Found")})
		return
	}
	var h strings.Builder
	h.WriteString("NATS/1.0\r\n")
	if len(msg.Hdr) > 0 {
		// The stored headers without their NATS/1.0 line and end.
		rest := strings.TrimSuffix(string(msg.Hdr), "\r\n\r\n")
		if i := strings.Index(rest, "\r\n"); i >= 0 {
			h.WriteString(rest[i+2:] + "\r\n")
		}
	}
	h.WriteString("Nats-Stream: " + s.cfg.Name + "\r\n")
	h.WriteString("Nats-Subject: " + msg.Subject + "\r\n")
	h.WriteString("Nats-Sequence: " + itoa(msg.Seq) + "\r\n")
	h.WriteString("Nats-Time-Stamp: " + timeOf(msg.Time).Format(time.RFC3339Nano) + "\r\n")
	h.WriteString("Nats-Last-Sequence: " + itoa(s.st.State().LastSeq) + "\r\n\r\n")
	e.out = append(e.out, output{subject: m.reply, hdr: []byte(h.String()), data: msg.Data})
}

// consumerDir is where a file stream keeps a consumer.
func consumerDir(s *stream, name string) string {
	if s.dir == "" {
		return ""
	}
	return filepath.Join(s.dir, "obs", name)
}
