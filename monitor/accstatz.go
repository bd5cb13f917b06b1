package monitor

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/murmurmq/murmur/broker"
)

// AccountStatz is the /accstatz document, with nats-server's field names:
// each account's connections and message totals.
type AccountStatz struct {
	ID       string         `json:"server_id"`
	Now      time.Time      `json:"now"`
	Accounts []*AccountStat `json:"account_statz"`
}

// AccountStat is one account in /accstatz (nats-server's AccountStat).
//
// Sent is what the server queued to the account's clients, Received what
// it read from them, both including clients that have closed since the
// server started, and only clients: Murmur does not count route traffic
// per account, so unlike nats-server's the documents have no "routes"
// part. The leaf node connections bound to the account are counted in
// leafnodes, and what they carry (live connections only) in the "leafs"
// parts. Murmur has no gateways; those parts are zero.
type AccountStat struct {
	Account string `json:"acc"`
	// Name is the account's name (nats-server's JWT name tag, which
	// Murmur's configured accounts do not have).
	Name      string `json:"name"`
	Conns     int    `json:"conns"`
	LeafNodes int    `json:"leafnodes"`
	// TotalConns is conns plus leafnodes now, as in nats-server; the
	// connections ever admitted are in /metrics
	// (murmur_account_connections_total).
	TotalConns    int       `json:"total_conns"`
	NumSubs       uint32    `json:"num_subscriptions"`
	Sent          DataStats `json:"sent"`
	Received      DataStats `json:"received"`
	SlowConsumers int64     `json:"slow_consumers"`
}

// DataStats is a message and byte count with nats-server's per-origin
// breakdown (see AccountStat for which parts Murmur reports).
type DataStats struct {
	broker.MsgBytes
	Gateways *broker.MsgBytes `json:"gateways,omitempty"`
	Routes   *broker.MsgBytes `json:"routes,omitempty"`
	Leafs    *broker.MsgBytes `json:"leafs,omitempty"`
}

// AccountStatzOptions select the accounts of AccountStatz. The JSON names
// are nats-server's, so the options of a $SYS.REQ.ACCOUNT.<acc>.STATZ
// request decode into it.
type AccountStatzOptions struct {
	// Accounts lists the accounts by name, in this order (unknown ones
	// and repeats are skipped); empty means every account, by name.
	Accounts []string `json:"accounts"`
	// IncludeUnused lists accounts with no open connection too; by
	// default, as in nats-server, only those with one are listed.
	IncludeUnused bool `json:"include_unused"`
}

// AccountStatz reports the accounts opts selects.
func (m *Server) AccountStatz(opts AccountStatzOptions) *AccountStatz {
	stz := &AccountStatz{ID: m.b.ID(), Now: time.Now().UTC(), Accounts: []*AccountStat{}}
	accs := m.b.Accounts()
	byName := make(map[string]*broker.AccountInfo, len(accs))
	for i := range accs {
		byName[accs[i].Name] = &accs[i]
	}
	leafs := map[string]*leafTotals{}
	for _, l := range m.leafs(false) {
		t := leafs[l.Account]
		if t == nil {
			t = &leafTotals{}
			leafs[l.Account] = t
		}
		t.n++
		t.in.Msgs, t.in.Bytes = t.in.Msgs+l.InMsgs, t.in.Bytes+l.InBytes
		t.out.Msgs, t.out.Bytes = t.out.Msgs+l.OutMsgs, t.out.Bytes+l.OutBytes
	}
	pick := func(a *broker.AccountInfo) {
		lt := leafs[a.Name]
		if opts.IncludeUnused || a.Connections > 0 || lt != nil {
			st := accountStat(a)
			if lt != nil {
				st.LeafNodes, st.TotalConns = lt.n, st.Conns+lt.n
				*st.Sent.Leafs, *st.Received.Leafs = lt.out, lt.in
			}
			stz.Accounts = append(stz.Accounts, st)
		}
	}
	if len(opts.Accounts) == 0 {
		for i := range accs {
			pick(&accs[i])
		}
		return stz
	}
	for _, name := range opts.Accounts {
		if a := byName[name]; a != nil {
			pick(a)
			delete(byName, name)
		}
	}
	return stz
}

// leafTotals are an account's leaf node connections and what they carried.
type leafTotals struct {
	n       int
	in, out broker.MsgBytes
}

func accountStat(a *broker.AccountInfo) *AccountStat {
	return &AccountStat{
		Account:    a.Name,
		Name:       a.Name,
		Conns:      a.Connections,
		TotalConns: a.Connections,
		NumSubs:    uint32(a.Subscriptions),
		Sent: DataStats{
			MsgBytes: broker.MsgBytes{Msgs: a.OutMsgs, Bytes: a.OutBytes},
			Gateways: &broker.MsgBytes{}, Leafs: &broker.MsgBytes{},
		},
		Received: DataStats{
			MsgBytes: broker.MsgBytes{Msgs: a.InMsgs, Bytes: a.InBytes},
			Gateways: &broker.MsgBytes{}, Leafs: &broker.MsgBytes{},
		},
		SlowConsumers: a.SlowConsumers,
	}
}

// accountStatzOptions reads /accstatz's parameters: unused (a flag, as
// nats-server) and acc, a comma-separated list of accounts (Murmur's;
// nats-server takes the list only in system requests).
func accountStatzOptions(args *fasthttp.Args) (AccountStatzOptions, error) {
	unused, err := decodeBool(args, "unused")
	if err != nil {
		return AccountStatzOptions{}, err
	}
	opts := AccountStatzOptions{IncludeUnused: unused}
	for _, name := range strings.Split(string(args.Peek("acc")), ",") {
		if name = strings.TrimSpace(name); name != "" {
			opts.Accounts = append(opts.Accounts, name)
		}
	}
	return opts, nil
}
