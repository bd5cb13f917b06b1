#!/bin/sh
# Installs the real nats CLI and nats-server the tests run side by side
# with the broker (monitor's `nats server ...` tests, the interop checks)
# into $(go env GOPATH)/bin when missing. Built outside this module's
# graph, at the versions the README names.
set -eu
bin="$(go env GOPATH)/bin"
cd "${TMPDIR:-/tmp}"
if ! command -v nats >/dev/null 2>&1 && [ ! -x "$bin/nats" ]; then
	GOFLAGS= go install github.com/nats-io/natscli/nats@v0.5.0
fi
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x "$bin/nats-server" ]; then
	GOFLAGS= go install github.com/nats-io/nats-server/v2@v2.15.2
fi
