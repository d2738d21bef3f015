#!/usr/bin/env bash
# Builds tools/cnitool (a cnitool on Debian's libcni 1.1.2) offline with Debian's Go, into
# the cache, and prints the binary's path. Cache key: the source, Go and libcni versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$REPO/tools/cnitool
libcni=/usr/share/gocode/src/github.com/containernetworking/cni
[ -x /usr/bin/go ] && [ -d "$libcni/libcni" ] ||
  die "cnitool needs golang-go and golang-github-appc-cni-dev: run scripts/clients/install.sh"
key=$({ go version; dpkg-query -W golang-github-appc-cni-dev; hash_files "$src"/*.go; } | key_of)
out=$CACHE/cnitool/$key
if [ ! -x "$out/cnitool" ]; then
  building cnitool
  lock cnitool
fi
if [ ! -x "$out/cnitool" ]; then
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  # GOPATH mode against Debian's packaged sources: no module download, no network.
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$CACHE/cnitool/gocache GOFLAGS= \
    go build -o "$out.tmp/cnitool" "$src"/*.go
  publish_dir "$out.tmp" "$out"
fi
used "$out"
echo "$out/cnitool"
