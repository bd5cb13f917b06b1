#!/bin/sh
# Release build: static broker binaries for each target, stamped with the
# version and commit, the license files, and SHA256SUMS over all of it.
#
#   scripts/release.sh                      # every target, into dist/
#   VERSION=1.2.0 OUT=/tmp/rel scripts/release.sh linux/amd64 linux/arm64
#
# VERSION defaults to the tag at HEAD (v1.2.0 -> 1.2.0), else the version
# in broker/options.go with "-dev"; COMMIT to `git rev-parse HEAD` (with
# "-dirty" when tracked files have changes). The binaries are
# reproducible: -trimpath, no VCS stamp or build id, CGO_ENABLED=0, so the
# same commit and Go version give the same SHA256SUMS. POSIX sh, so the
# container build (deploy/Dockerfile) runs it too.
set -eu
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || set -- linux/amd64 linux/arm64 darwin/arm64 windows/amd64
OUT=${OUT:-dist}

if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD 2>/dev/null) || { echo "release: not a git checkout: set COMMIT" >&2; exit 1; }
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    COMMIT="$COMMIT-dirty"
  fi
fi
if [ -z "${VERSION:-}" ]; then
  if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
    VERSION=${tag#v}
  else
    VERSION=$(sed -n 's/^\(var\|const\) Version = "\(.*\)"$/\2/p' broker/version.go)-dev
  fi
fi
case $VERSION in
  *[!A-Za-z0-9.+_-]* | "" | -*) echo "release: bad VERSION \"$VERSION\"" >&2; exit 1 ;;
esac
case $COMMIT in
  *[!A-Za-z0-9._-]*) echo "release: bad COMMIT \"$COMMIT\"" >&2; exit 1 ;;
esac
for t in "$@"; do
  case $t in
    linux/amd64 | linux/arm64 | darwin/amd64 | darwin/arm64 | windows/amd64 | windows/arm64 | freebsd/amd64) ;;
    *) echo "release: unknown target \"$t\" (want os/arch, e.g. linux/amd64)" >&2; exit 1 ;;
  esac
done

mkdir -p "$OUT"
ldflags="-s -w -buildid= -X github.com/murmurmq/murmur/broker.buildCommit=$COMMIT -X github.com/murmurmq/murmur/broker.Version=$VERSION"
files=""
mods=$(mktemp)
trap 'rm -f "$mods" "$mods.missing"' EXIT
for t in "$@"; do
  os=${t%/*} arch=${t#*/}
  name="murmur-$VERSION-$os-$arch"
  [ "$os" != windows ] || name="$name.exe"
  echo "release: $name" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "$ldflags" -o "$OUT/$name" ./cmd/broker
  files="$files $name"
  # The modules linked into this target, for THIRD_PARTY_LICENSES.
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go list -deps \
    -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/broker >>"$mods"
done

# Every dependency's license travels with the binaries (MIT, BSD and
# Apache-2.0 ask for their notices; MPL-2.0 for where its source is).
{
  echo "Third-party software linked into the Murmur $VERSION binaries."
  echo "NOTICE explains the MPL-2.0 components; each license follows."
  sort -u "$mods" | while read -r path version dir; do
    echo
    echo "================================================================"
    echo "$path $version"
    echo "================================================================"
    found=
    for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
      [ -f "$f" ] || continue
      found=1
      echo "--- $(basename "$f")"
      cat "$f"
    done
    [ -n "$found" ] || echo "$path $version" >>"$mods.missing"
  done
} >"$OUT/THIRD_PARTY_LICENSES"
if [ -s "$mods.missing" ]; then
  echo "release: no license file in: $(cat "$mods.missing")" >&2
  exit 1
fi
cp LICENSE NOTICE "$OUT/"
files="$files LICENSE NOTICE THIRD_PARTY_LICENSES"

cd "$OUT"
# shellcheck disable=SC2086 # $files is a list of plain names
if command -v sha256sum >/dev/null; then
  sha256sum $files >SHA256SUMS
else
  shasum -a 256 $files >SHA256SUMS
fi
echo "release: $VERSION ($COMMIT) in $OUT:" >&2
cat SHA256SUMS >&2
