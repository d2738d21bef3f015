#!/usr/bin/env bash
# Builds netavark 2.1.0 (Podman 5's network backend; it runs driver plugins found with
# `--plugin-directory`) from crates.io into the cache and prints the binary's path.
# Debian 12 ships netavark 1.4, which has no plugins. ~6 min once on 2 cores; the cache key
# is the version and the toolchain, so a second run is instant.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
VERSION=2.1.0
key=$({ echo "netavark $VERSION --locked"; rustc -V; } | key_of)
out=$CACHE/netavark/$key
[ -x "$out/bin/netavark" ] || building netavark
[ -x "$out/bin/netavark" ] || lock netavark
if [ ! -x "$out/bin/netavark" ]; then
  [ -x /usr/bin/protoc ] || die "netavark needs protoc: run scripts/clients/install.sh"
  mkdir -p "$CACHE/netavark"
  rm -rf "$out.tmp"
  # Its own target dir inside the cache: nothing lands in a clone's target/.
  CARGO_TARGET_DIR=$CACHE/netavark/target cargo install netavark --version "$VERSION" \
    --locked --root "$out.tmp" --quiet
  rm -f "$out.tmp/.crates.toml" "$out.tmp/.crates2.json"
  publish_dir "$out.tmp" "$out"
  rm -rf "$CACHE/netavark/target"
fi
echo "$out/bin/netavark"
