package broker

// CloseReason is why a connection closed, with nats-server's wording (as
// shown in /connz?state=closed).
type CloseReason uint8

// Close reasons.
const (
	ClientClosed CloseReason = iota + 1
	ServerShutdown
	ParseError
	ProtocolViolation
	MaxPayloadExceeded
	MaxControlLineExceeded
	SlowConsumerPendingBytes
	SlowConsumerWriteDeadline
	WriteError
	StaleConnection
	AuthenticationTimeout
	AuthenticationViolation
	MaxConnectionsExceeded
	DuplicateRoute
	TLSHandshakeError
	LameDuckMode
	MaxAccountConnectionsExceeded
	AuthenticationExpired
	// PermissionsReloaded is Murmur's: a hub closed a leaf whose user's
	// permissions a reload changed, for it to log in with them
	// (leaf_reload.go).
	PermissionsReloaded
)

var reasonText = [...]string{
	ClientClosed:                  "Client Closed",
	ServerShutdown:                "Server Shutdown",
	ParseError:                    "Parse Error",
	ProtocolViolation:             "Protocol Violation",
	MaxPayloadExceeded:            "Maximum Message Payload Exceeded",
	MaxControlLineExceeded:        "Maximum Control Line Exceeded",
	SlowConsumerPendingBytes:      "Slow Consumer (Pending Bytes)",
	SlowConsumerWriteDeadline:     "Slow Consumer (Write Deadline)",
	WriteError:                    "Write Error",
	StaleConnection:               "Stale Connection",
	AuthenticationTimeout:         "Authentication Timeout",
	AuthenticationViolation:       "Authentication Failure",
	MaxConnectionsExceeded:        "Maximum Connections Exceeded",
	DuplicateRoute:                "Duplicate Route",
	TLSHandshakeError:             "TLS Handshake Failure",
	LameDuckMode:                  "Lame Duck Mode",
	MaxAccountConnectionsExceeded: "Maximum Account Connections Exceeded",
	AuthenticationExpired:         "Authentication Expired",
	PermissionsReloaded:           "Permissions Reloaded",
}

func (r CloseReason) String() string {
	if int(r) < len(reasonText) && reasonText[r] != "" {
		return reasonText[r]
	}
	return "Unknown"
}

// flushes reports whether pending output is still written before the socket
// closes: yes when it carries an -ERR or messages the peer should get, no
// when the peer is the problem (slow, gone).
func (r CloseReason) flushes() bool {
	switch r {
	case SlowConsumerPendingBytes, SlowConsumerWriteDeadline, WriteError, ClientClosed:
		return false
	}
	return true
}
