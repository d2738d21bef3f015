#!/usr/bin/env bash
# Builds tools/cri-client (podnet's CRI client: the calls kubelet makes) into the cache and
# prints the binary's path. It is its own cargo workspace, so podnet's builds never compile
# it. Unoptimised (its Cargo.toml drops debug info): a few RPCs need no speed, the build
# needs far less CPU. Cache key: its sources, its lock file and the toolchain.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$REPO/tools/cri-client
key=$({ rustc -V; hash_files "$src/Cargo.toml" "$src/Cargo.lock" $(find "$src/src" -type f | sort); } | key_of)
out=$CACHE/cri-client/$key
if [ ! -x "$out/cri-client" ]; then
  building cri-client
  lock cri-client
fi
if [ ! -x "$out/cri-client" ]; then
  [ -x /usr/bin/protoc ] || die "cri-client needs protoc: run scripts/clients/install.sh"
  # One target dir for every version, outside the clone: a changed source rebuilds only
  # this crate.
  CARGO_TARGET_DIR=$CACHE/cri-client/target cargo build --locked --quiet \
    --manifest-path "$src/Cargo.toml"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  cp "$CACHE/cri-client/target/debug/cri-client" "$out.tmp/"
  publish_dir "$out.tmp" "$out"
fi
used "$out"
echo "$out/cri-client"
