package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// sysTarget is what a request asks for: a server endpoint (account "")
// or an account endpoint about account ("" with STATZ: every account).
type sysTarget struct {
	name       string
	forAccount bool
	account    string
	ping       bool // $SYS.REQ.SERVER.PING: answered as {"statsz":..}
}

// target reads r's subject, or reports false when this server stays
// silent (another server's subject).
func (sys *System) target(r *sysRequest) (sysTarget, bool) {
	if r.scope != "" {
		return sysTarget{name: r.endpoint, forAccount: true, account: r.scope}, r.endpoint != ""
	}
	if rest, ok := strings.CutPrefix(r.subject, "$SYS.REQ.SERVER."); ok {
		switch {
		case rest == "PING":
			return sysTarget{name: "STATSZ", ping: true}, true
		case strings.HasPrefix(rest, "PING."):
			return sysTarget{name: rest[len("PING."):]}, true
		case strings.HasPrefix(rest, sys.srv.id+"."):
			return sysTarget{name: rest[len(sys.srv.id)+1:]}, true
		}
		return sysTarget{}, false
	}
	if rest, ok := strings.CutPrefix(r.subject, "$SYS.REQ.ACCOUNT."); ok {
		acc, name, ok := strings.Cut(rest, ".")
		if !ok || strings.Contains(name, ".") {
			return sysTarget{}, false
		}
		if acc == sysAccountPing {
			// Only STATZ has an every-account form (nats-server).
			return sysTarget{name: name, forAccount: true}, name == "STATZ"
		}
		return sysTarget{name: name, forAccount: true, account: acc}, true
	}
	return sysTarget{}, false
}

// answer builds the response to r, or nil when this server stays silent.
func (sys *System) answer(r sysRequest) []byte {
	t, ok := sys.target(&r)
	if !ok {
		return nil
	}
	info := sys.serverInfo()
	body := []byte(r.body)
	var data any
	var err error
	status := http.StatusInternalServerError
	if len(body) > 0 {
		var f eventFilter
		if jerr := json.Unmarshal(body, &f); jerr != nil {
			err, status = jerr, http.StatusBadRequest
		} else if sys.filtered(&f, info) {
			return nil
		}
	}
	if err == nil {
		data, err = sys.call(t, body, info)
		if errors.Is(err, ErrSilent) {
			return nil
		}
		if errors.Is(err, errUnknownEndpoint) {
			status = http.StatusNotFound
		}
	}
	var v any
	switch {
	case err != nil:
		v = &apiResponse{Server: info, Error: &APIError{Code: status, Description: err.Error()}}
	case t.ping:
		v = &statszResponse{Server: info, Stats: data}
	case t.name == "IDZ" && !t.forAccount:
		v = data // nats-server answers IDZ bare
	default:
		v = &apiResponse{Server: info, Data: data}
	}
	b, merr := json.Marshal(v)
	if merr != nil {
		sys.log.Warn("system response not encodable", zap.String("endpoint", t.name), zap.Error(merr))
		return nil
	}
	return b
}

var errUnknownEndpoint = errors.New("unknown endpoint")

// ServerID is the IDZ answer (nats-server ServerID).
type ServerID struct {
	Name string `json:"name"`
	Host string `json:"host"`
	ID   string `json:"id"`
}

// call runs t's handler.
func (sys *System) call(t sysTarget, body []byte, info *ServerInfo) (any, error) {
	if t.forAccount {
		if t.account != "" && sys.srv.account(t.account) == nil {
			return nil, ErrSilent // an account this server does not have
		}
		if h := sys.opts.AccountEndpoints[t.name]; h != nil {
			return h(t.account, body)
		}
		return nil, fmt.Errorf("%w %s", errUnknownEndpoint, t.name)
	}
	if h := sys.opts.Endpoints[t.name]; h != nil {
		return h(body)
	}
	switch t.name {
	case "STATSZ":
		return sys.srv.defaultStatsz(), nil
	case "IDZ":
		return &ServerID{Name: info.Name, Host: info.Host, ID: info.ID}, nil
	}
	return nil, fmt.Errorf("%w %s", errUnknownEndpoint, t.name)
}

func (sys *System) serverInfo() *ServerInfo {
	host := sys.srv.opts.Host
	return &ServerInfo{
		Name:      sys.srv.Name(),
		Host:      host,
		ID:        sys.srv.id,
		Cluster:   sys.opts.ClusterName,
		Version:   ServerVersion,
		Tags:      sys.srv.opts.Tags,
		Metadata:  sys.srv.opts.Metadata,
		JetStream: sys.srv.jetStreamOn(),
		Seq:       sys.seq.Add(1),
		Time:      time.Now().UTC(),
	}
}

// filtered reports whether f excludes this server (nats-server
// filterRequest).
func (sys *System) filtered(f *eventFilter, info *ServerInfo) bool {
	differs := func(want, have string) bool {
		if want == "" {
			return false
		}
		if f.ExactMatch {
			return want != have
		}
		return !strings.Contains(have, want)
	}
	for _, t := range f.Tags { // every tag asked for (server_tags), case-blind
		if !slices.ContainsFunc(info.Tags, func(have string) bool { return strings.EqualFold(have, t) }) {
			return true
		}
	}
	return differs(f.Name, info.Name) || differs(f.Host, info.Host) || differs(f.Cluster, info.Cluster)
}

// defaultStatsz is STATSZ from the broker's own counters, used when no
// endpoint (the monitor) supplies a richer one.
func (s *Server) defaultStatsz() *Statsz {
	st := s.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &Statsz{
		Start:            s.start,
		Mem:              int64(ms.Sys),
		Cores:            runtime.NumCPU(),
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		ActiveAccounts:   s.activeAccounts(),
		NumSubs:          st.Subscriptions,
		Sent:             MsgBytes{Msgs: st.OutMsgs, Bytes: st.OutBytes},
		Received:         MsgBytes{Msgs: st.InMsgs, Bytes: st.InBytes},
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: st.StaleConnections,
		ActiveServers:    1,
		MaxProcs:         runtime.GOMAXPROCS(0),
	}
}

// activeAccounts counts the accounts with open client connections.
func (s *Server) activeAccounts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[*account]bool{}
	for _, c := range s.clients {
		seen[c.acc.Load()] = true
	}
	return len(seen)
}
