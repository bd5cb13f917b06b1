// Package proto is the NATS client protocol as pure code: a zero-allocation
// parser over read buffers and the exact -ERR texts nats-server writes. It
// does no I/O; the broker feeds it bytes and acts on the callbacks.
package proto

import (
	"errors"
	"fmt"
)

// -ERR texts as nats-server writes them. Errors marked "closes" end the
// connection after being sent; the others leave it open.
const (
	ErrTextUnknownOp      = "Unknown Protocol Operation"    // closes
	ErrTextMaxPayload     = "Maximum Payload Violation"     // closes
	ErrTextMaxControlLine = "maximum control line exceeded" // closes
	ErrTextInvalidSubject = "Invalid Subject"
	ErrTextInvalidPubSubj = "Invalid Publish Subject"
	ErrTextStale          = "Stale Connection"        // closes
	ErrTextAuthViolation  = "Authorization Violation" // closes
	ErrTextAuthTimeout    = "Authentication Timeout"  // closes
	// Permission violations leave the connection open; the subject is quoted.
	ErrTextPermPub          = `Permissions Violation for Publish to "%s"`
	ErrTextPermSub          = `Permissions Violation for Subscription to "%s"`
	ErrTextPermSubQueue     = `Permissions Violation for Subscription to "%s" using queue "%s"`
	ErrTextPermSubReload    = `Permissions Violation for Subscription to "%s" (sid "%s")` // a reload removed it
	ErrTextMaxConns         = "maximum connections exceeded"
	ErrTextMaxSubs          = "maximum subscriptions exceeded"
	ErrTextMaxAccountConns  = "maximum account active connections exceeded" // closes
	ErrTextAuthExpired      = "User Authentication Expired"                 // closes
	ErrTextAccountExpired   = "Account Authentication Expired"              // closes
	ErrTextInvalidProtocol  = "invalid client protocol"                     // closes
	ErrTextNoRespNoHeaders  = "no responders requires headers support"      // closes
	ErrTextSecureConnection = "Secure Connection - TLS Required"            // closes
)

// ErrLine formats text as the wire line `-ERR '<text>'\r\n`.
func ErrLine(text string) []byte { return []byte("-ERR '" + text + "'\r\n") }

// Parser errors. Each tells the broker what to do with the connection.
var (
	// ErrUnknownOp: send -ERR 'Unknown Protocol Operation' and close.
	ErrUnknownOp = errors.New(ErrTextUnknownOp)
	// ErrMaxControlLine: send -ERR 'maximum control line exceeded' and close.
	ErrMaxControlLine = errors.New(ErrTextMaxControlLine)
	// ErrMaxPayload: send -ERR 'Maximum Payload Violation' and close.
	ErrMaxPayload = errors.New(ErrTextMaxPayload)
	// ErrAuthViolation: an op other than CONNECT while authentication is
	// required: send -ERR 'Authorization Violation' and close.
	ErrAuthViolation = errors.New(ErrTextAuthViolation)
)

// ViolationError is a malformed argument list (wrong field count, bad size).
// nats-server closes such connections without an -ERR; so does the broker.
type ViolationError struct {
	Op  string
	Arg string
}

func (e *ViolationError) Error() string {
	return fmt.Sprintf("%s parse error: %q", e.Op, e.Arg)
}

func violation(op string, arg []byte) error {
	const max = 128
	if len(arg) > max {
		arg = arg[:max]
	}
	return &ViolationError{Op: op, Arg: string(arg)}
}
