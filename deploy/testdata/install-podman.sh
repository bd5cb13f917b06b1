#!/bin/sh
# What deploy/image_test.go needs, from Debian: podman and podman-compose
# to build and run the image and the compose cluster, runc (crun refuses
# this sandbox's hybrid cgroups), busybox-static for the test's builder
# image, and systemd-analyze for the unit check.
set -eu
need=
for p in podman:podman podman-compose:podman-compose runc:runc busybox:busybox-static systemd-analyze:systemd; do
  command -v "${p%%:*}" >/dev/null 2>&1 || need="$need ${p#*:}"
done
[ -z "$need" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq $need >/dev/null
