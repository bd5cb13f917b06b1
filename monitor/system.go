package monitor

import (
	"encoding/json"
	"runtime"

	"github.com/murmurmq/murmur/broker"
)

// SystemEndpoints returns the handlers for the broker's system responder
// (broker.SystemOptions.Endpoints), so `nats server info|list|ping|report`
// see the same documents as /varz, /connz and the rest:
//
//	VARZ, CONNZ, SUBSZ, ROUTEZ, GOSSIPZ, HEALTHZ, STATSZ, ACCOUNTZ
//
// CONNZ, SUBSZ and ACCOUNTZ read nats-server's request options from the
// body (sort, offset, limit, subscriptions, state, acc / test / account).
// They work whether or not the monitor serves HTTP.
func (m *Server) SystemEndpoints() map[string]broker.SystemHandler {
	eps := map[string]broker.SystemHandler{
		"VARZ":    func([]byte) (any, error) { return m.Varz(), nil },
		"STATSZ":  func([]byte) (any, error) { return m.Statsz(), nil },
		"ROUTEZ":  func([]byte) (any, error) { return m.Routez(false), nil },
		"GOSSIPZ": func([]byte) (any, error) { return m.Gossipz(), nil },
		"HEALTHZ": func([]byte) (any, error) { h, _ := m.Health(); return h, nil },
		"CONNZ":   func(body []byte) (any, error) { return m.connzRequest("", body) },
		"SUBSZ":   func(body []byte) (any, error) { return m.subszRequest("", body) },
		"ACCOUNTZ": func(body []byte) (any, error) {
			var req struct {
				Account string `json:"account"`
			}
			if err := unmarshalOpt(body, &req); err != nil {
				return nil, err
			}
			return m.Accountz(req.Account)
		},
	}
	m.addJetStreamEndpoints(eps, nil)
	return eps
}

// AccountEndpoints returns the handlers for the system responder's
// account requests (broker.SystemOptions.AccountEndpoints):
// $SYS.REQ.ACCOUNT.<acc>.CONNZ, .SUBSZ, .INFO and .STATZ, and the
// per-account imports every account gets ($SYS.REQ.SERVER.PING.CONNZ,
// $SYS.REQ.ACCOUNT.PING.CONNZ and .STATZ answered about itself).
func (m *Server) AccountEndpoints() map[string]broker.AccountHandler {
	eps := map[string]broker.AccountHandler{
		"CONNZ": m.connzRequest,
		"SUBSZ": m.subszRequest,
		"INFO": func(acc string, _ []byte) (any, error) {
			az, err := m.Accountz(acc)
			if err != nil {
				return nil, err
			}
			return az.Account, nil
		},
		"STATZ": m.statzRequest,
	}
	m.addJetStreamEndpoints(nil, eps)
	return eps
}

// connzRequest is CONNZ with nats-server's ConnzOptions from body; a
// non-empty acc scopes it to that account whatever the body says.
func (m *Server) connzRequest(acc string, body []byte) (any, error) {
	var req struct {
		Sort    SortOpt `json:"sort"`
		Auth    bool    `json:"auth"`
		Subs    bool    `json:"subscriptions"`
		Offset  int     `json:"offset"`
		Limit   int     `json:"limit"`
		State   int     `json:"state"`
		CID     uint64  `json:"cid"`
		Account string  `json:"acc"`
	}
	if err := unmarshalOpt(body, &req); err != nil {
		return nil, err
	}
	if acc != "" {
		req.Account = acc
	}
	// nats-server's ConnState: 0 open, 1 closed, 2 all.
	return m.Connz(ConnzOptions{Sort: req.Sort, Auth: req.Auth, Subscriptions: req.Subs, Offset: req.Offset,
		Limit: req.Limit, State: ConnState(req.State), CID: req.CID, Account: req.Account})
}

// subszRequest is SUBSZ with nats-server's SubszOptions from body; a
// non-empty acc scopes it to that account and lists its subscriptions,
// as nats-server's account SUBSZ does.
func (m *Server) subszRequest(acc string, body []byte) (any, error) {
	var req struct {
		Subs    bool   `json:"subscriptions"`
		Offset  int    `json:"offset"`
		Limit   int    `json:"limit"`
		Test    string `json:"test"`
		Account string `json:"account"`
	}
	if err := unmarshalOpt(body, &req); err != nil {
		return nil, err
	}
	if acc != "" {
		req.Account, req.Subs = acc, true
	}
	return m.Subsz(SubszOptions{Subscriptions: req.Subs, Offset: req.Offset, Limit: req.Limit, Test: req.Test, Account: req.Account})
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
		ActiveAccounts:   activeAccounts(m.b.Accounts()),
		NumSubs:          v.Subscriptions,
		Sent:             broker.MsgBytes{Msgs: v.OutMsgs, Bytes: v.OutBytes},
		Received:         broker.MsgBytes{Msgs: v.InMsgs, Bytes: v.InBytes},
		SlowConsumers:    v.SlowConsumers,
		StaleConnections: v.StaleConnections,
		ActiveServers:    active,
		MaxProcs:         runtime.GOMAXPROCS(0),
	}
}

// statzRequest is an account STATZ (nats-server AccountStatzOptions in
// body): acc's, or with acc "" those the body names, or every account
// with connections here. A server with nothing to report stays silent,
// as nats-server's.
func (m *Server) statzRequest(acc string, body []byte) (any, error) {
	var req struct {
		Accounts      []string `json:"accounts"`
		IncludeUnused bool     `json:"include_unused"`
	}
	if err := unmarshalOpt(body, &req); err != nil {
		return nil, err
	}
	if acc != "" {
		req.Accounts = []string{acc}
	}
	st := m.AccountStatz(AccountStatzOptions{Accounts: req.Accounts, IncludeUnused: req.IncludeUnused})
	if len(st.Accounts) == 0 && !req.IncludeUnused {
		return nil, broker.ErrSilent
	}
	return st, nil
}

func activeAccounts(accs []broker.AccountInfo) int {
	n := 0
	for _, a := range accs {
		if a.Connections > 0 {
			n++
		}
	}
	return n
}
