#!/usr/bin/env bash
# Builds netavark 2.1.0 (Podman 5's network backend; it runs driver plugins found with
# `--plugin-directory`) from crates.io into the cache and prints the binary's path.
# Debian 12 ships netavark 1.4, which has no plugins. An unoptimised build without debug
# info: tests make a few calls, and it takes half the CPU of a release build (2.3 min of
# CPU against 4.6). The cache key is the version, the build mode and the toolchain, so a
# second run is instant.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
VERSION=2.1.0
key=$({ echo "netavark $VERSION --locked --debug debuginfo=0"; rustc -V; } | key_of)
out=$CACHE/netavark/$key
[ -x "$out/bin/netavark" ] || building netavark
[ -x "$out/bin/netavark" ] || lock netavark
if [ ! -x "$out/bin/netavark" ]; then
  [ -x /usr/bin/protoc ] || die "netavark needs protoc: run scripts/clients/install.sh"
  mkdir -p "$CACHE/netavark"
  rm -rf "$out.tmp"
  # Its own target dir inside the cache: nothing lands in a clone's target/.
  CARGO_TARGET_DIR=$CACHE/netavark/target CARGO_PROFILE_DEV_DEBUG=0 \
    cargo install netavark --version "$VERSION" --locked --debug --root "$out.tmp" --quiet
  rm -f "$out.tmp/.crates.toml" "$out.tmp/.crates2.json"
  publish_dir "$out.tmp" "$out"
  rm -rf "$CACHE/netavark/target"
fi
used "$out"
echo "$out/bin/netavark"
