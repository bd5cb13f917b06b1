package broker

// JetStream stays on its side of a leaf connection, as nats-server keeps
// it (server/leafnode.go addLeafNodeConnection, jetstream_api.go
// denyAllClientJs and denyAllJs): both ends of every leaf connection deny
// the JetStream API, key-value and object store subjects in both
// directions. Without it a leaf and its hub with JetStream in the same
// account would both take a leaf client's $JS.API.STREAM.CREATE.S (two
// streams, two answers, the first one winning) and both store its
// $KV.<bucket>.<key> puts. JetStream on the other side is reached through
// its domain instead, $JS.<domain>.API.>, which crosses.
//
// The interest each side has in those subjects is not told to the other,
// a literal one from the peer is a permissions violation as any denied
// subject, and messages on them do not cross. The INFO's import and
// export do not list them (nats-server adds them to the connection's
// permissions after the INFO). nats-server's default_js_domain exception
// (an account mapped to the empty domain keeps the API open) is not
// built.

var (
	// leafJSDenyClient is nats-server's denyAllClientJs: an application
	// account's leaf connections.
	leafJSDenyClient = []string{"$JS.API.>", "$KV.>", "$OBJ.>"}
	// leafJSDenySystem is denyAllJs for the system account's, which also
	// keeps JetStream's cluster traffic home: nats-server's $JSC.> and
	// $NRG.>, and Murmur's own $MJSC.> (jetstream/cluster.go).
	leafJSDenySystem = []string{"$JSC.>", "$NRG.>", "$MJSC.>", "$JS.API.>", "$KV.>", "$OBJ.>"}
)

// jetStreamDeny is what l's account keeps off the connection.
func (l *leaf) jetStreamDeny() []string {
	if l.acc == l.srv.sysacc {
		return leafJSDenySystem
	}
	return leafJSDenyClient
}
