package monitor

import (
	"encoding/json"
	"runtime"

	"github.com/murmurmq/murmur/broker"
)

// SystemEndpoints returns the handlers for the broker's system responder
// (broker.SystemOptions.Endpoints), so `nats server info|list|ping` see the
// same documents as /varz, /connz and the rest:
//
//	VARZ, CONNZ, SUBSZ, ROUTEZ, GOSSIPZ, HEALTHZ, STATSZ
//
// CONNZ and SUBSZ read nats-server's request options from the body
// (sort, offset, limit, subscriptions, state / test). They work whether or
// not the monitor serves HTTP.
func (m *Server) SystemEndpoints() map[string]broker.SystemHandler {
	return map[string]broker.SystemHandler{
		"VARZ":    func([]byte) (any, error) { return m.Varz(), nil },
		"STATSZ":  func([]byte) (any, error) { return m.Statsz(), nil },
		"ROUTEZ":  func([]byte) (any, error) { return m.Routez(false), nil },
		"GOSSIPZ": func([]byte) (any, error) { return m.Gossipz(), nil },
		"HEALTHZ": func([]byte) (any, error) { h, _ := m.Health(); return h, nil },
		"CONNZ": func(body []byte) (any, error) {
			var req struct {
				Sort   SortOpt `json:"sort"`
				Subs   bool    `json:"subscriptions"`
				Offset int     `json:"offset"`
				Limit  int     `json:"limit"`
				State  int     `json:"state"`
				CID    uint64  `json:"cid"`
			}
			if err := unmarshalOpt(body, &req); err != nil {
				return nil, err
			}
			// nats-server's ConnState: 0 open, 1 closed, 2 all.
			return m.Connz(ConnzOptions{Sort: req.Sort, Subscriptions: req.Subs, Offset: req.Offset, Limit: req.Limit, State: ConnState(req.State), CID: req.CID})
		},
		"SUBSZ": func(body []byte) (any, error) {
			var req struct {
				Subs   bool   `json:"subscriptions"`
				Offset int    `json:"offset"`
				Limit  int    `json:"limit"`
				Test   string `json:"test"`
			}
			if err := unmarshalOpt(body, &req); err != nil {
				return nil, err
			}
			return m.Subsz(SubszOptions{Subscriptions: req.Subs, Offset: req.Offset, Limit: req.Limit, Test: req.Test})
		},
	}
}

func unmarshalOpt(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	return json.Unmarshal(body, v)
}

// Statsz is the STATSZ document `nats server list|ping` read, from the
// same numbers as /varz, with the cluster size as active_servers.
func (m *Server) Statsz() *broker.Statsz {
	v := m.Varz()
	active := 1
	if v.Members > 0 {
		active = v.Members
	}
	return &broker.Statsz{
		Start:            v.Start,
		Mem:              v.Mem,
		Cores:            v.Cores,
		CPU:              v.CPU,
		Connections:      v.Connections,
		TotalConnections: v.TotalConnections,
		ActiveAccounts:   1,
		NumSubs:          v.Subscriptions,
		Sent:             broker.MsgBytes{Msgs: v.OutMsgs, Bytes: v.OutBytes},
		Received:         broker.MsgBytes{Msgs: v.InMsgs, Bytes: v.InBytes},
		SlowConsumers:    v.SlowConsumers,
		StaleConnections: v.StaleConnections,
		ActiveServers:    active,
		MaxProcs:         runtime.GOMAXPROCS(0),
	}
}
