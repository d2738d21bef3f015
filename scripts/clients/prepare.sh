#!/usr/bin/env bash
# Everything the client tests need: the Debian packages, netavark 2.1, cri-client, cnitool
# and the offline images, each installed or built only when missing (the builds are cached
# in $PODNET_CLIENTS_CACHE, default /var/cache/podnet-clients, keyed by their inputs).
# Reports each step and its time on stderr; prints on stdout the environment the tests
# read (podnet::testbed::clients):
#   PODNET_NETAVARK=... PODNET_CRI_CLIENT=... PODNET_CNITOOL=... PODNET_CLIENT_IMAGES=...
# scripts/test.sh runs it; `eval "$(scripts/clients/prepare.sh)"` does the same by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
step "packages" bash "$here/install.sh"
for tool in netavark cri_client cnitool images; do
  path=$(step "$tool" bash "$here/$tool.sh")
  case $tool in
    netavark) echo "PODNET_NETAVARK=$path" ;;
    cri_client) echo "PODNET_CRI_CLIENT=$path" ;;
    cnitool) echo "PODNET_CNITOOL=$path" ;;
    images) echo "PODNET_CLIENT_IMAGES=$path" ;;
  esac
done
