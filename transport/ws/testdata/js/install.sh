#!/bin/sh
# Installs the pinned JavaScript clients (package-lock.json) for
# transport/ws/js_test.go when node_modules is missing.
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
	npm ci --no-audit --no-fund --silent
fi
