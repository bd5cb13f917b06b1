package jetstream

import (
	"os"
	"reflect"
	"sort"
	"time"

	"github.com/nats-io/nuid"
)

// consumerAPI answers $JS.API.CONSUMER.*:
//
//	CONSUMER.CREATE.<stream>[.<name>[.<filter>]]  CONSUMER.DURABLE.CREATE.<stream>.<durable>
//	CONSUMER.INFO|DELETE.<stream>.<name>          CONSUMER.LIST|NAMES.<stream>
//	CONSUMER.MSG.NEXT.<stream>.<name>             (answered with messages)
func (e *Engine) consumerAPI(t []string, m *inMsg, now time.Time) (any, string) {
	arg := func(i int) string {
		if i < len(t) {
			return t[i]
		}
		return ""
	}
	switch arg(1) {
	case "CREATE":
		filter := ""
		if len(t) > 4 {
			filter = joinFrom(t, 4)
		}
		return e.startPush(m.reply, e.createConsumer(arg(2), arg(3), filter, false, m.data, now), now), typeConsumerCreate
	case "DURABLE":
		if arg(2) == "CREATE" {
			return e.startPush(m.reply, e.createConsumer(arg(3), arg(4), "", true, m.data, now), now), typeConsumerCreate
		}
	case "INFO":
		s, c, ae := e.lookup(arg(2), arg(3))
		if ae != nil {
			return ae, typeConsumerInfo
		}
		_ = s
		return c.info(typeConsumerInfo), typeConsumerInfo
	case "DELETE":
		s, _, ae := e.lookup(arg(2), arg(3))
		if ae != nil {
			return ae, typeConsumerDelete
		}
		e.deleteConsumer(s, arg(3))
		return successResponse{Type: typeConsumerDelete, Success: true}, ""
	case "PAUSE":
		return e.pauseConsumer(arg(2), arg(3), m.data, now), typeConsumerPause
	case "NAMES", "LIST":
		return e.consumerList(arg(1) == "LIST", arg(2), m.data), typeConsumerList
	case "MSG":
		if arg(2) == "NEXT" {
			_, c, ae := e.lookup(arg(3), arg(4))
			if ae != nil {
				return nil, "" // no such consumer: nats-server does not answer
			}
			var req pullRequest
			if len(m.data) > 0 && m.data[0] != '{' {
				req.Batch = int(parseUint(string(m.data)))
			} else if err := decode(m.data, &req); err != nil {
				e.out = append(e.out, output{subject: m.reply, hdr: statusMsg(400, "Bad Request")})
				return nil, ""
			}
			e.out = c.pull(m.reply, req, now, e.out)
			return nil, ""
		}
	}
	return nil, "" // not an API subject: nats-server does not answer
}

func joinFrom(t []string, i int) string {
	s := t[i]
	for _, x := range t[i+1:] {
		s += "." + x
	}
	return s
}

func (e *Engine) lookup(stream, name string) (*stream, *consumer, *APIError) {
	s := e.streams[stream]
	if s == nil {
		return nil, nil, errStreamNotFound
	}
	c := s.consumers[name]
	if c == nil {
		return s, nil, errConsumerNotFound
	}
	return s, c, nil
}

func (e *Engine) createConsumer(streamName, name, filter string, durableAPI bool, body []byte, now time.Time) any {
	var req createConsumerRequest
	if err := decodeAPI(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	s := e.streams[streamName]
	if s == nil {
		return errStreamNotFound
	}
	if req.Stream != "" && req.Stream != streamName {
		return errStreamMismatch
	}
	var cfg ConsumerConfig // nats-server takes a missing config as empty
	if req.Config != nil {
		cfg = *req.Config
	}
	if !durableAPI && name == "" && cfg.Durable != "" {
		return errConsumerEphemeralDurable // $JS.API.CONSUMER.CREATE.<stream> is for ephemerals
	}
	if durableAPI {
		if cfg.Durable != name {
			return errConsumerDurableSubj
		}
	} else if name != "" {
		if cfg.Durable != "" && cfg.Durable != name {
			return errConsumerDurableSubj
		}
		if cfg.Name == "" {
			cfg.Name = cfg.Durable
		}
		if cfg.Name == "" {
			cfg.Name = name
		}
		if cfg.Name != name {
			return errConsumerDurableSubj
		}
		if filter != "" && cfg.FilterSubject != filter {
			return errConsumerFilterMismatch
		}
	}
	if ae := e.consumerDefaults(&cfg); ae != nil {
		return ae
	}
	cfg.defaults()
	if ae := cfg.check(); ae != nil {
		return ae
	}
	if ae := checkDeliverCycle(s, &cfg); ae != nil {
		return ae
	}
	cname := cfg.Durable
	if cname == "" {
		cname = cfg.Name
	}
	if cname == "" {
		cname = nuid.Next()
	}
	if old := s.consumers[cname]; old != nil {
		cfg.PauseUntil = old.cfg.PauseUntil // changed only by CONSUMER.PAUSE
		if req.Action == "create" && !reflect.DeepEqual(old.cfg, cfg) {
			return errConsumerAlreadyExists
		}
		if ae := s.checkWorkQueueConsumer(cname, &cfg, true); ae != nil {
			return ae
		}
		old.cfg = cfg
		saveConsumerMeta(old)
		s.afterConsumerUpdate(&e.usage)
		return old.info(typeConsumerCreate)
	}
	if req.Action == "update" {
		return errConsumerDoesNotExist
	}
	if ae := s.checkWorkQueueConsumer(cname, &cfg, false); ae != nil {
		return ae
	}
	if ae := e.admitConsumer(); ae != nil {
		return ae
	}
	c := &consumer{name: cname, stream: s, cfg: cfg, created: now.UTC(), dir: consumerDir(s, cname), active: now, conn: e.conn}
	c.start()
	if err := saveConsumerMeta(c); err != nil {
		return errConsumerCreate.with("err", err.Error())
	}
	c.dirty = true
	s.consumers[cname] = c
	e.adviseConsumer(streamName, cname, actionCreate)
	return c.info(typeConsumerCreate)
}

// deleteConsumer drops a consumer; its waiting pull requests hear 409.
func (e *Engine) deleteConsumer(s *stream, name string) {
	c := s.consumers[name]
	if c == nil {
		return
	}
	for _, w := range c.waiting {
		e.out = append(e.out, output{subject: w.reply, hdr: statusMsg(409, "Consumer Deleted")})
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
	delete(s.consumers, name)
	s.afterConsumerDelete(c, &e.usage)
	e.adviseConsumer(s.cfg.Name, name, actionDelete)
}

type consumerNamesResponse struct {
	Type      string   `json:"type"`
	Total     int      `json:"total"`
	Offset    int      `json:"offset"`
	Limit     int      `json:"limit"`
	Consumers []string `json:"consumers"`
}

type consumerListResponse struct {
	Type      string          `json:"type"`
	Total     int             `json:"total"`
	Offset    int             `json:"offset"`
	Limit     int             `json:"limit"`
	Consumers []*ConsumerInfo `json:"consumers"`
}

func (e *Engine) consumerList(full bool, streamName string, body []byte) any {
	s := e.streams[streamName]
	if s == nil {
		return errStreamNotFound
	}
	var req listRequest
	if err := decodeOptional(body, &req); err != nil {
		return errInvalidJSON.with("err", err.Error())
	}
	names := make([]string, 0, len(s.consumers))
	for n := range s.consumers {
		names = append(names, n)
	}
	sort.Strings(names)
	names = page(names, req.Offset, 256)
	if !full {
		return consumerNamesResponse{Type: typeConsumerNames, Total: len(s.consumers), Offset: req.Offset, Limit: 256, Consumers: names}
	}
	infos := make([]*ConsumerInfo, 0, len(names))
	for _, n := range names {
		infos = append(infos, s.consumers[n].info(""))
	}
	return consumerListResponse{Type: typeConsumerList, Total: len(s.consumers), Offset: req.Offset, Limit: 256, Consumers: infos}
}
