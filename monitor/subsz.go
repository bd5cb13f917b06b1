package monitor

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/murmurmq/murmur/broker"
)

// DefaultSubListSize is /subsz's default limit, as nats-server's.
const DefaultSubListSize = 1024

// SubszOptions are /subsz's query parameters.
type SubszOptions struct {
	// Subscriptions lists the subscriptions (subs=1).
	Subscriptions bool
	Offset, Limit int
	// Test, a literal subject, lists the subscriptions the index matches
	// for it (whether or not Subscriptions is set).
	Test string
	// Account selects one account's subscriptions (acc=); Test looks in
	// its index ($G's by default).
	Account string
}

// Subsz is the /subsz document (nats-server's Subsz with SublistStats
// inlined).
type Subsz struct {
	ID           string      `json:"server_id"`
	Now          time.Time   `json:"now"`
	NumSubs      int         `json:"num_subscriptions"`
	NumCache     int         `json:"num_cache"`
	NumInserts   uint64      `json:"num_inserts"`
	NumRemoves   uint64      `json:"num_removes"`
	NumMatches   uint64      `json:"num_matches"`
	CacheHitRate float64     `json:"cache_hit_rate"`
	MaxFanout    int         `json:"max_fanout"`
	AvgFanout    float64     `json:"avg_fanout"`
	Total        int         `json:"total"`
	Offset       int         `json:"offset"`
	Limit        int         `json:"limit"`
	Subs         []SubDetail `json:"subscriptions_list,omitempty"`
}

// SubDetail is one listed subscription.
type SubDetail struct {
	Subject string `json:"subject"`
	Queue   string `json:"qgroup,omitempty"`
	Sid     string `json:"sid"`
	Msgs    int64  `json:"msgs"`
	Cid     uint64 `json:"cid"`
	Account string `json:"account,omitempty"`
}

// subszOptions decodes /subsz's query in nats-server's order: subs (a
// plain flag here, "detail" is refused), offset, limit. The test subject
// is checked by Subsz.
func subszOptions(args *fasthttp.Args) (SubszOptions, error) {
	o := SubszOptions{Test: string(args.Peek("test")), Account: string(args.Peek("acc"))}
	var err error
	if o.Subscriptions, err = decodeBool(args, "subs"); err != nil {
		return o, err
	}
	if o.Offset, err = decodeInt(args, "offset"); err != nil {
		return o, err
	}
	if o.Limit, err = decodeInt(args, "limit"); err != nil {
		return o, err
	}
	return o, nil
}

// Subsz returns the /subsz document for opts. It fails when Test is not a
// valid literal subject.
func (m *Server) Subsz(opts SubszOptions) (*Subsz, error) {
	opts.Offset = max(opts.Offset, 0)
	if opts.Limit <= 0 {
		opts.Limit = DefaultSubListSize
	}
	var list []broker.SubInfo
	listing := opts.Subscriptions || opts.Test != ""
	if opts.Test != "" {
		var err error
		if list, err = m.b.MatchSubscriptions(opts.Account, opts.Test); err != nil {
			return nil, err
		}
	} else if listing {
		for _, s := range m.b.Subscriptions() {
			if opts.Account == "" || s.Account == opts.Account {
				list = append(list, s)
			}
		}
	}
	st := m.b.IndexStats()
	sz := &Subsz{
		ID:         m.b.ID(),
		Now:        nowUTC(),
		NumSubs:    st.Count,
		NumCache:   st.CacheEntries,
		NumInserts: st.Inserts,
		NumRemoves: st.Removes,
		NumMatches: st.Matches,
		Total:      st.Count,
		Offset:     opts.Offset,
		Limit:      opts.Limit,
	}
	if st.Matches > 0 {
		sz.CacheHitRate = float64(st.Hits) / float64(st.Matches)
	}
	if listing {
		sz.Total = len(list)
		lo := min(opts.Offset, len(list))
		hi := lo + min(opts.Limit, len(list)-lo)
		sz.Subs = make([]SubDetail, 0, hi-lo)
		for _, s := range list[lo:hi] {
			sz.Subs = append(sz.Subs, SubDetail{Subject: s.Subject, Queue: s.Queue, Sid: s.SID, Msgs: s.Msgs, Cid: s.CID, Account: s.Account})
		}
	}
	return sz, nil
}
