#!/bin/sh
# Installs the reference nats-server for the monitor's side-by-side
# /accstatz test (monitor/accstatz_test.go) when it is missing: on PATH
# or in $(go env GOPATH)/bin, where the test looks.
set -eu
if command -v nats-server >/dev/null 2>&1 || [ -x "$(go env GOPATH)/bin/nats-server" ]; then
	exit 0
fi
go install github.com/nats-io/nats-server/v2@v2.15.2
