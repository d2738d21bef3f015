#!/usr/bin/env bash
# Installs the Debian packages that the client tests (tests/clients_*.rs) and the client
# builders need, when any is missing. No service gets started: there is no systemd here and
# the tests start containerd themselves, inside their sandbox.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# package -> a file it installs (cheap presence test, no dpkg query per package)
declare -A PKG=(
  [podman]=/usr/bin/podman
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [conmon]=/usr/bin/conmon
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [busybox-static]=/bin/busybox
  [golang-go]=/usr/bin/go
  [golang-github-appc-cni-dev]=/usr/share/gocode/src/github.com/containernetworking/cni/libcni/api.go
  [protobuf-compiler]=/usr/bin/protoc
  [libprotobuf-dev]=/usr/include/google/protobuf/descriptor.proto
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/include/stdio.h
  [iptables]=/usr/sbin/iptables
)
missing=()
for p in "${!PKG[@]}"; do
  [ -e "${PKG[$p]}" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
building "packages ${missing[*]}"
echo "clients: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages must not start daemons on the machine (Debian's maintainer scripts try to).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
