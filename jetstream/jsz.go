package jetstream

import (
	"maps"
	"math"
	"slices"
	"time"
)

// The /jsz shapes, as nats-server's (server/monitor.go JSInfo,
// AccountDetail, StreamDetail; server/jetstream.go JetStreamStats).

// JszOptions select what Jsz reports (nats-server JSzOptions).
type JszOptions struct {
	Account    string `json:"account,omitempty"`
	Accounts   bool   `json:"accounts,omitempty"`
	Streams    bool   `json:"streams,omitempty"`
	Consumer   bool   `json:"consumer,omitempty"`
	Config     bool   `json:"config,omitempty"`
	LeaderOnly bool   `json:"leader_only,omitempty"`
	Offset     int    `json:"offset,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// ServerConfig is the server's JetStream configuration as /jsz and
// /varz report it (nats-server JetStreamConfig).
type ServerConfig struct {
	MaxMemory    int64         `json:"max_memory"`
	MaxStore     int64         `json:"max_storage"`
	StoreDir     string        `json:"store_dir,omitempty"`
	SyncInterval time.Duration `json:"sync_interval,omitempty"`
	SyncAlways   bool          `json:"sync_always,omitempty"`
	Domain       string        `json:"domain,omitempty"`
	CompressOK   bool          `json:"compress_ok,omitempty"`
	UniqueTag    string        `json:"unique_tag,omitempty"`
	Strict       bool          `json:"strict,omitempty"`
}

// Stats are the JetStream totals (nats-server JetStreamStats).
type Stats struct {
	Memory         uint64   `json:"memory"`
	Store          uint64   `json:"storage"`
	ReservedMemory uint64   `json:"reserved_memory"`
	ReservedStore  uint64   `json:"reserved_storage"`
	Accounts       int      `json:"accounts"`
	HAAssets       int      `json:"ha_assets"`
	API            APIStats `json:"api"`
}

// JSInfo is the /jsz document.
type JSInfo struct {
	Stats
	ID             string           `json:"server_id"`
	Now            time.Time        `json:"now"`
	Disabled       bool             `json:"disabled,omitempty"`
	Config         ServerConfig     `json:"config,omitempty"`
	Streams        int              `json:"streams"`
	Consumers      int              `json:"consumers"`
	Messages       uint64           `json:"messages"`
	Bytes          uint64           `json:"bytes"`
	AccountDetails []*AccountDetail `json:"account_details,omitempty"`
	Total          int              `json:"total"`
}

// AccountDetail is one account in /jsz.
type AccountDetail struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	Stats
	Streams []StreamDetail `json:"stream_detail,omitempty"`
}

// StreamDetail is one stream in /jsz (streams=true).
type StreamDetail struct {
	Name     string            `json:"name"`
	Created  time.Time         `json:"created"`
	Cluster  *ClusterInfo      `json:"cluster,omitempty"`
	Config   *StreamConfig     `json:"config,omitempty"`
	State    StreamState       `json:"state,omitempty"`
	Consumer []*ConsumerDetail `json:"consumer_detail,omitempty"`
}

// ConsumerDetail is a consumer in a StreamDetail: its info, with the
// config only when config=true (nats-server sets it to nil).
type ConsumerDetail struct {
	Stream         string          `json:"stream_name"`
	Name           string          `json:"name"`
	Created        time.Time       `json:"created"`
	Config         *ConsumerConfig `json:"config,omitempty"`
	Delivered      SequenceInfo    `json:"delivered"`
	AckFloor       SequenceInfo    `json:"ack_floor"`
	NumAckPending  int             `json:"num_ack_pending"`
	NumRedelivered int             `json:"num_redelivered"`
	NumWaiting     int             `json:"num_waiting"`
	NumPending     uint64          `json:"num_pending"`
	Cluster        *ClusterInfo    `json:"cluster,omitempty"`
	TS             time.Time       `json:"ts"`
}

// Usage is an engine's account totals, as Detail gathers them.
type Usage struct {
	Memory, Store                 uint64
	ReservedMemory, ReservedStore uint64
	Streams, Consumers            int
	Messages, Bytes               uint64
	API                           APIStats
}

// Detail reads the account's JetStream state on the engine's goroutine:
// its totals, and its streams (and their consumers) as asked.
func (e *Engine) Detail(streams, consumers, config bool) (*AccountDetail, Usage, error) {
	var d *AccountDetail
	var u Usage
	err := e.call(func() { d, u = e.detail(streams, consumers, config) })
	return d, u, err
}

// limitBytes is nats-server's reserved_* of an account: its limit read
// as unsigned (so no limit, -1, is the largest number).
func limitBytes(n int64) uint64 {
	if n < 0 {
		return math.MaxUint64
	}
	return uint64(n)
}

func (e *Engine) detail(streams, consumers, config bool) (*AccountDetail, Usage) {
	l := e.accountLimits()
	d := &AccountDetail{Name: e.account, ID: e.account, Stats: Stats{
		Memory: uint64(max(e.usage.mem, 0)), Store: uint64(max(e.usage.store, 0)),
		ReservedMemory: limitBytes(l.MaxMemory), ReservedStore: limitBytes(l.MaxStore),
		API: APIStats{Total: e.api.Total, Errors: e.api.Errors},
	}}
	u := Usage{
		Memory: d.Memory, Store: d.Store, API: e.api,
		ReservedMemory: uint64(e.reserved("memory", "")), ReservedStore: uint64(e.reserved("file", "")),
		Streams: len(e.streams),
	}
	for _, s := range e.sortedStreams("") {
		st := s.st.State()
		u.Messages += st.Msgs
		u.Bytes += st.Bytes
		u.Consumers += len(s.consumers)
		if !streams {
			continue
		}
		si := s.info("", "")
		sd := StreamDetail{Name: s.cfg.Name, Created: s.created, Cluster: &ClusterInfo{Leader: e.cfg.ServerName}, State: si.State}
		if config {
			c := s.cfg
			sd.Config = &c
		}
		if consumers {
			for _, name := range slices.Sorted(maps.Keys(s.consumers)) {
				ci := s.consumers[name].info("")
				cd := &ConsumerDetail{
					Stream: ci.Stream, Name: ci.Name, Created: ci.Created, Delivered: ci.Delivered, AckFloor: ci.AckFloor,
					NumAckPending: ci.NumAckPending, NumRedelivered: ci.NumRedelivered, NumWaiting: ci.NumWaiting,
					NumPending: ci.NumPending, TS: ci.TS,
				}
				if config {
					cd.Config = &ci.Config
				}
				sd.Consumer = append(sd.Consumer, cd)
			}
		}
		d.Streams = append(d.Streams, sd)
	}
	return d, u
}
