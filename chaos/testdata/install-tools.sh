#!/bin/sh
# Installs what the chaos harness (chaos/) builds its network with when
# missing: iproute2 (ip netns, veth, bridge, tc), nftables (partitions,
# loss) and iptables (the NFQUEUE delay on kernels without sch_netem).
# Run as root (CI images are).
set -eu
if command -v ip >/dev/null 2>&1 && command -v nft >/dev/null 2>&1 && command -v iptables >/dev/null 2>&1; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends iproute2 nftables iptables
