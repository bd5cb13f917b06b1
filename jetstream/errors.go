package jetstream

import (
	"fmt"
	"strings"
)

// APIError is a JetStream API error as nats-server sends it: the HTTP-like
// code, the JetStream err_code and the description
// (server/jetstream_errors_generated.go).
type APIError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code,omitempty"`
	Description string `json:"description,omitempty"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (%d)", e.Description, e.ErrCode) }

func apiErr(code int, errCode uint16, desc string) *APIError {
	return &APIError{Code: code, ErrCode: errCode, Description: desc}
}

// withArg fills a description template's {name} with v.
func (e *APIError) with(name string, v any) *APIError {
	c := *e
	c.Description = strings.ReplaceAll(c.Description, "{"+name+"}", fmt.Sprint(v))
	return &c
}

// The errors Murmur sends, with nats-server's codes and texts.
var (
	errNotEnabled          = apiErr(503, 10076, "JetStream not enabled")
	errBadRequest          = apiErr(400, 10003, "bad request")
	errInvalidJSON         = apiErr(400, 10025, "invalid JSON: {err}")
	errStreamNotFound      = apiErr(404, 10059, "stream not found")
	errStreamNameExist     = apiErr(400, 10058, "stream name already in use with a different configuration")
	errSubjectOverlap      = apiErr(400, 10065, "subjects overlap with an existing stream")
	errStreamMismatch      = apiErr(400, 10056, "stream name in subject does not match request")
	errStreamInvalidConfig = apiErr(500, 10052, "{err}")
	errStreamUpdate        = apiErr(500, 10069, "{err}")
	errStreamNameSep       = apiErr(400, 10128, "Stream name can not contain path separators")
	errReplicasUnsupported = apiErr(500, 10074, "replicas > 1 not supported in non-clustered mode")
	errStreamStoreFailed   = apiErr(503, 10077, "{err}")
	errMsgTooBig           = apiErr(400, 10054, "message size exceeds maximum allowed")
	errWrongLastSeq        = apiErr(400, 10071, "wrong last sequence: {seq}")
	errWrongLastMsgID      = apiErr(400, 10070, "wrong last msg ID: {id}")
	errStreamNotMatch      = apiErr(400, 10060, "expected stream does not match")
	errNoMessageFound      = apiErr(404, 10037, "no message found")
	errSequenceNotFound    = apiErr(400, 10043, "sequence {seq} not found")
	errMsgDeleteFailed     = apiErr(500, 10057, "{err}")
	errRollupFailed        = apiErr(500, 10111, "{err}")
	errSealed              = apiErr(400, 10109, "invalid operation on sealed stream")
	errPurgeFailed         = apiErr(500, 10110, "{err}")
	errStorageExceeded     = apiErr(500, 10047, "insufficient storage resources available")
	errMemoryExceeded      = apiErr(500, 10028, "insufficient memory resources available")

	errConsumerNotFound          = apiErr(404, 10014, "consumer not found")
	errConsumerNameExist         = apiErr(400, 10013, "consumer name already in use")
	errConsumerAlreadyExists     = apiErr(400, 10148, "consumer already exists")
	errConsumerDoesNotExist      = apiErr(400, 10149, "consumer does not exist")
	errConsumerCreate            = apiErr(500, 10012, "{err}")
	errConsumerNameSep           = apiErr(400, 10127, "Consumer name can not contain path separators")
	errConsumerBadDurable        = apiErr(400, 10103, "durable name can not contain '.', '*', '>'")
	errConsumerNameMismatch      = apiErr(400, 10132, "Consumer Durable and Name have to be equal if both are provided")
	errConsumerFilterMismatch    = apiErr(400, 10131, "Consumer create request did not match filtered subject from create subject")
	errConsumerDupFilters        = apiErr(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")
	errConsumerDurableSubj       = apiErr(400, 10017, "consumer name in subject does not match durable name in request")
	errConsumerMaxDeliverBackoff = apiErr(400, 10116, "max deliver is required to be > length of backoff values")
)

// Push and pull mode rules (push.go) and pause (pause.go).
var (
	errConsumerDeliverWildcards  = apiErr(400, 10079, "consumer deliver subject has wildcards")
	errConsumerPushMaxWaiting    = apiErr(400, 10080, "consumer in push mode can not set max waiting")
	errConsumerDeliverCycle      = apiErr(400, 10081, "consumer deliver subject forms a cycle")
	errConsumerMaxPendingAckNone = apiErr(400, 10082, "consumer requires ack policy for max ack pending")
	errConsumerSmallHeartbeat    = apiErr(400, 10083, "consumer idle heartbeat needs to be >= 100ms")
	errConsumerPullRateLimit     = apiErr(400, 10086, "consumer in pull mode can not have rate limit set")
	errConsumerHBRequiresPush    = apiErr(400, 10088, "consumer idle heartbeat requires a push based consumer")
	errConsumerFCRequiresPush    = apiErr(400, 10089, "consumer flow control requires a push based consumer")
	errConsumerFCNeedsHeartbeat  = apiErr(400, 10108, "consumer with flow control also needs heartbeats")
	errConsumerBadDeliverSubject = apiErr(400, 10112, "invalid push consumer deliver subject")
	errConsumerStoreFailed       = apiErr(500, 10104, "error creating store for consumer: {err}")
)
