//go:build tools

// This file keeps nats-server in go.mod so that the harness can build the
// exact comparison binary with `go build github.com/nats-io/nats-server/v2`.
// It is never compiled into the bench itself.
package main

import _ "github.com/nats-io/nats-server/v2"
