#!/bin/sh
# Installs Debian's chromium for the monitor's live-page test
# (monitor/page_test.go) when it is missing. Run as root (CI images are).
set -eu
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
