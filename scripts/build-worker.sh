#!/usr/bin/env bash
# Builds a worker binary with the flags of the container images. The
# Dockerfile runs this script, and so do `make worker-binaries` and the tests
# that check the binaries, so the flags live only here.
#
# Usage: scripts/build-worker.sh default|static PACKAGE OUTPUT [VERSION]
#   default  goczmq transport, cgo, linked against libczmq
#   static   pure-Go transport (build tag purego), CGO_ENABLED=0, static
# VERSION (default: $VERSION, else "dev") is stored in boomer.Version, which
# the worker logs when it starts. It may contain letters, digits and . _ + -.
set -euo pipefail

if (( $# < 3 || $# > 4 )); then
    echo "usage: $0 default|static PACKAGE OUTPUT [VERSION]" >&2
    exit 2
fi
variant="$1"
package="$2"
output="$3"
version="${4:-${VERSION:-dev}}"

if [[ ! "$version" =~ ^[A-Za-z0-9._+-]+$ ]]; then
    echo "build-worker: invalid version \"$version\": use letters, digits and . _ + - only" >&2
    exit 2
fi

go="${GO:-go}"
ldflags="-s -w -X github.com/locust-go/boomer.Version=${version}"
common=(-trimpath -buildvcs=false -ldflags "$ldflags" -o "$output")

case "$variant" in
default)
    CGO_ENABLED=1 "$go" build "${common[@]}" "$package"
    ;;
static)
    CGO_ENABLED=0 "$go" build -tags purego "${common[@]}" "$package"
    ;;
*)
    echo "build-worker: unknown variant \"$variant\": use default or static" >&2
    exit 2
    ;;
esac
