package jetstream

import "github.com/murmurmq/murmur/pubsub"

// The engine receives all of $JS.API.> but, as nats-server, answers only the
// subjects of its API (server/jetstream_api.go, the JSApi* constants). A
// request with a token too many or too few ($JS.API.STREAM.INFO.S.x,
// $JS.API.CONSUMER.INFO.S) gets no answer there, and none here.

// apiSubjects are the API's subjects without "$JS.API.".
var apiSubjects = []string{
	"INFO",
	"STREAM.CREATE.*", "STREAM.UPDATE.*", "STREAM.NAMES", "STREAM.LIST",
	"STREAM.INFO.*", "STREAM.DELETE.*", "STREAM.PURGE.*",
	"STREAM.MSG.DELETE.*", "STREAM.MSG.GET.*",
	"DIRECT.GET.*", "DIRECT.GET.*.>",
	"CONSUMER.CREATE.*", "CONSUMER.CREATE.*.>", "CONSUMER.DURABLE.CREATE.*.*",
	"CONSUMER.NAMES.*", "CONSUMER.LIST.*", "CONSUMER.INFO.*.*",
	"CONSUMER.DELETE.*.*", "CONSUMER.PAUSE.*.*", "CONSUMER.MSG.NEXT.*.*",
	// Answered with 10010: replicas are for a JetStream cluster.
	"STREAM.LEADER.STEPDOWN.*", "STREAM.PEER.REMOVE.*",
	"CONSUMER.LEADER.STEPDOWN.*.*", "CONSUMER.PEER.REMOVE.*.*",
}

// isAPISubject reports whether op (a subject without "$JS.API.") is one the
// API answers.
func isAPISubject(op string) bool {
	for _, p := range apiSubjects {
		if pubsub.SubjectMatches(p, op) {
			return true
		}
	}
	return false
}

// errClusteringRequired answers requests about replicas on a broker whose
// streams have none (nats-server's answer when it runs without a cluster).
var errClusteringRequired = apiErr(503, 10010, "JetStream clustering support required")

// The response types of the replica requests.
const (
	typeStreamLeaderStepdown   = "io.nats.jetstream.api.v1.stream_leader_stepdown_response"
	typeStreamRemovePeer       = "io.nats.jetstream.api.v1.stream_remove_peer_response"
	typeConsumerLeaderStepdown = "io.nats.jetstream.api.v1.consumer_leader_stepdown_response"
	typeConsumerRemovePeer     = "io.nats.jetstream.api.v1.consumer_remove_peer_response"
)

// replicaRequest answers the leader stepdown and peer removal requests:
// t is the subject's tokens after "$JS.API.", already checked to be one.
func replicaRequest(t []string) (any, string) {
	return errClusteringRequired, replicaTypes[t[0]+"."+t[1]]
}

var replicaTypes = map[string]string{
	"STREAM.LEADER":   typeStreamLeaderStepdown,
	"STREAM.PEER":     typeStreamRemovePeer,
	"CONSUMER.LEADER": typeConsumerLeaderStepdown,
	"CONSUMER.PEER":   typeConsumerRemovePeer,
}
