package jetstream

import (
	"encoding/json"
	"time"
)

// The JSON shapes of the JetStream API, as nats-server's
// (server/stream.go, consumer.go, jetstream_api.go). Durations are
// nanoseconds, times RFC 3339.

// StreamConfig is a stream's configuration.
type StreamConfig struct {
	Name                   string                  `json:"name"`
	Description            string                  `json:"description,omitempty"`
	Subjects               []string                `json:"subjects,omitempty"`
	Retention              string                  `json:"retention"`
	MaxConsumers           int                     `json:"max_consumers"`
	MaxMsgs                int64                   `json:"max_msgs"`
	MaxBytes               int64                   `json:"max_bytes"`
	MaxAge                 time.Duration           `json:"max_age"`
	MaxMsgsPer             int64                   `json:"max_msgs_per_subject"`
	MaxMsgSize             int32                   `json:"max_msg_size,omitempty"`
	Discard                string                  `json:"discard"`
	Storage                string                  `json:"storage"`
	Replicas               int                     `json:"num_replicas"`
	NoAck                  bool                    `json:"no_ack,omitempty"`
	Duplicates             time.Duration           `json:"duplicate_window,omitempty"`
	Sealed                 bool                    `json:"sealed"`
	DenyDelete             bool                    `json:"deny_delete"`
	DenyPurge              bool                    `json:"deny_purge"`
	AllowRollup            bool                    `json:"allow_rollup_hdrs"`
	AllowDirect            bool                    `json:"allow_direct"`
	MirrorDirect           bool                    `json:"mirror_direct"`
	DiscardNewPer          bool                    `json:"discard_new_per_subject,omitempty"`
	Compression            string                  `json:"compression,omitempty"`
	FirstSeq               uint64                  `json:"first_seq,omitempty"`
	Metadata               map[string]string       `json:"metadata,omitempty"`
	Placement              json.RawMessage         `json:"placement,omitempty"`
	Mirror                 *StreamSource           `json:"mirror,omitempty"`
	Sources                []*StreamSource         `json:"sources,omitempty"`
	RePublish              *RePublish              `json:"republish,omitempty"`
	SubjectTransform       *SubjectTransformConfig `json:"subject_transform,omitempty"`
	ConsumerLimits         json.RawMessage         `json:"consumer_limits,omitempty"`
	AllowMsgTTL            bool                    `json:"allow_msg_ttl,omitempty"`
	SubjectDeleteMarkerTTL time.Duration           `json:"subject_delete_marker_ttl,omitempty"`
}

// StreamState is a stream's state.
type StreamState struct {
	Msgs        uint64            `json:"messages"`
	Bytes       uint64            `json:"bytes"`
	FirstSeq    uint64            `json:"first_seq"`
	FirstTime   time.Time         `json:"first_ts"`
	LastSeq     uint64            `json:"last_seq"`
	LastTime    time.Time         `json:"last_ts"`
	NumSubjects int               `json:"num_subjects,omitempty"`
	Subjects    map[string]uint64 `json:"subjects,omitempty"`
	NumDeleted  int               `json:"num_deleted,omitempty"`
	Consumers   int               `json:"consumer_count"`
}

// ClusterInfo names the leader (this broker).
type ClusterInfo struct {
	Name   string `json:"name,omitempty"`
	Leader string `json:"leader,omitempty"`
}

// StreamInfo answers stream create, update, info and list.
type StreamInfo struct {
	Type    string              `json:"type,omitempty"`
	Config  StreamConfig        `json:"config"`
	Created time.Time           `json:"created"`
	State   StreamState         `json:"state"`
	Cluster *ClusterInfo        `json:"cluster,omitempty"`
	Mirror  *StreamSourceInfo   `json:"mirror,omitempty"`
	Sources []*StreamSourceInfo `json:"sources,omitempty"`
	TS      time.Time           `json:"ts"`
}

// ConsumerConfig is a consumer's configuration.
type ConsumerConfig struct {
	Durable           string            `json:"durable_name,omitempty"`
	Name              string            `json:"name,omitempty"`
	Description       string            `json:"description,omitempty"`
	DeliverPolicy     string            `json:"deliver_policy"`
	OptStartSeq       uint64            `json:"opt_start_seq,omitempty"`
	OptStartTime      *time.Time        `json:"opt_start_time,omitempty"`
	AckPolicy         string            `json:"ack_policy"`
	AckWait           time.Duration     `json:"ack_wait,omitempty"`
	MaxDeliver        int               `json:"max_deliver,omitempty"`
	BackOff           []time.Duration   `json:"backoff,omitempty"`
	FilterSubject     string            `json:"filter_subject,omitempty"`
	FilterSubjects    []string          `json:"filter_subjects,omitempty"`
	ReplayPolicy      string            `json:"replay_policy"`
	RateLimit         uint64            `json:"rate_limit_bps,omitempty"`
	SampleFrequency   string            `json:"sample_freq,omitempty"`
	MaxWaiting        int               `json:"max_waiting,omitempty"`
	MaxAckPending     int               `json:"max_ack_pending,omitempty"`
	FlowControl       bool              `json:"flow_control,omitempty"`
	Heartbeat         time.Duration     `json:"idle_heartbeat,omitempty"`
	HeadersOnly       bool              `json:"headers_only,omitempty"`
	MaxRequestBatch   int               `json:"max_batch,omitempty"`
	MaxRequestExpires time.Duration     `json:"max_expires,omitempty"`
	MaxRequestBytes   int               `json:"max_bytes,omitempty"`
	DeliverSubject    string            `json:"deliver_subject,omitempty"`
	DeliverGroup      string            `json:"deliver_group,omitempty"`
	InactiveThreshold time.Duration     `json:"inactive_threshold,omitempty"`
	Replicas          int               `json:"num_replicas"`
	MemoryStorage     bool              `json:"mem_storage,omitempty"`
	Metadata          map[string]string `json:"metadata,omitempty"`
	PauseUntil        *time.Time        `json:"pause_until,omitempty"`
}

// SequenceInfo is a consumer's position.
type SequenceInfo struct {
	Consumer uint64     `json:"consumer_seq"`
	Stream   uint64     `json:"stream_seq"`
	Last     *time.Time `json:"last_active,omitempty"`
}

// ConsumerInfo answers consumer create, info and list.
type ConsumerInfo struct {
	Type           string         `json:"type,omitempty"`
	Stream         string         `json:"stream_name"`
	Name           string         `json:"name"`
	Created        time.Time      `json:"created"`
	Config         ConsumerConfig `json:"config"`
	Delivered      SequenceInfo   `json:"delivered"`
	AckFloor       SequenceInfo   `json:"ack_floor"`
	NumAckPending  int            `json:"num_ack_pending"`
	NumRedelivered int            `json:"num_redelivered"`
	NumWaiting     int            `json:"num_waiting"`
	NumPending     uint64         `json:"num_pending"`
	Cluster        *ClusterInfo   `json:"cluster,omitempty"`
	PushBound      bool           `json:"push_bound,omitempty"`
	Paused         bool           `json:"paused,omitempty"`
	PauseRemaining time.Duration  `json:"pause_remaining,omitempty"`
	TS             time.Time      `json:"ts"`
}

type createConsumerRequest struct {
	Stream string          `json:"stream_name"`
	Config *ConsumerConfig `json:"config"`
	Action string          `json:"action,omitempty"`
}

type pullRequest struct {
	Batch     int           `json:"batch,omitempty"`
	MaxBytes  int           `json:"max_bytes,omitempty"`
	Expires   time.Duration `json:"expires,omitempty"`
	NoWait    bool          `json:"no_wait,omitempty"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
}

type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

type storedMsg struct {
	Subject string    `json:"subject"`
	Seq     uint64    `json:"seq"`
	Header  []byte    `json:"hdrs,omitempty"`
	Data    []byte    `json:"data,omitempty"`
	Time    time.Time `json:"time"`
}

type msgDeleteRequest struct {
	Seq     uint64 `json:"seq"`
	NoErase bool   `json:"no_erase,omitempty"`
}

type purgeRequest struct {
	Subject  string `json:"filter,omitempty"`
	Sequence uint64 `json:"seq,omitempty"`
	Keep     uint64 `json:"keep,omitempty"`
}

type streamInfoRequest struct {
	SubjectsFilter string `json:"subjects_filter,omitempty"`
	Offset         int    `json:"offset,omitempty"`
}

type listRequest struct {
	Offset  int    `json:"offset"`
	Subject string `json:"subject,omitempty"`
}

// PubAck answers a publish into a stream.
type PubAck struct {
	Error     *APIError `json:"error,omitempty"`
	Stream    string    `json:"stream,omitempty"`
	Seq       uint64    `json:"seq,omitempty"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Domain    string    `json:"domain,omitempty"`
}

// AccountLimits are an account's JetStream limits (-1: none).
type AccountLimits struct {
	MaxMemory        int64 `json:"max_memory"`
	MaxStore         int64 `json:"max_storage"`
	MaxStreams       int   `json:"max_streams"`
	MaxConsumers     int   `json:"max_consumers"`
	MaxAckPending    int   `json:"max_ack_pending"`
	MemoryMaxStream  int64 `json:"memory_max_stream_bytes"`
	StoreMaxStream   int64 `json:"storage_max_stream_bytes"`
	MaxBytesRequired bool  `json:"max_bytes_required"`
	// Tier names the JWT tier these limits come from ("" for an account's
	// one set); the account info then reports them under tiers (tiers.go).
	Tier string `json:"-"`
}

// APIStats counts API requests.
type APIStats struct {
	Level  int    `json:"level"`
	Total  uint64 `json:"total"`
	Errors uint64 `json:"errors"`
}

// AccountInfo answers $JS.API.INFO.
type AccountInfo struct {
	Type   string          `json:"type"`
	Tier                   // the account's usage and limits, flat (limits all zero with tiers)
	Domain string          `json:"domain,omitempty"`
	API    APIStats        `json:"api"`
	Tiers  map[string]Tier `json:"tiers,omitempty"`
}

// The response types nats-server puts in "type".
const (
	typeAccountInfo    = "io.nats.jetstream.api.v1.account_info_response"
	typeStreamCreate   = "io.nats.jetstream.api.v1.stream_create_response"
	typeStreamUpdate   = "io.nats.jetstream.api.v1.stream_update_response"
	typeStreamInfo     = "io.nats.jetstream.api.v1.stream_info_response"
	typeStreamList     = "io.nats.jetstream.api.v1.stream_list_response"
	typeStreamNames    = "io.nats.jetstream.api.v1.stream_names_response"
	typeStreamDelete   = "io.nats.jetstream.api.v1.stream_delete_response"
	typeStreamPurge    = "io.nats.jetstream.api.v1.stream_purge_response"
	typeMsgGet         = "io.nats.jetstream.api.v1.stream_msg_get_response"
	typeMsgDelete      = "io.nats.jetstream.api.v1.stream_msg_delete_response"
	typeConsumerCreate = "io.nats.jetstream.api.v1.consumer_create_response"
	typeConsumerInfo   = "io.nats.jetstream.api.v1.consumer_info_response"
	typeConsumerList   = "io.nats.jetstream.api.v1.consumer_list_response"
	typeConsumerNames  = "io.nats.jetstream.api.v1.consumer_names_response"
	typeConsumerDelete = "io.nats.jetstream.api.v1.consumer_delete_response"
	typeConsumerPause  = "io.nats.jetstream.api.v1.consumer_pause_response"
)

// apiLevel is the JetStream API level Murmur reports (nats-server 2.10's).
const apiLevel = 1
