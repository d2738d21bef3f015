#!/usr/bin/env bash
# End-to-end `podnet gc` (the services' full load) at N dual-stack services, issue 9.
# Runs itself inside a private sandbox (fresh network, mount and PID namespaces, a tmpfs on
# /run and the state in it): never touches this machine's network. Needs root.
#   scripts/gc_dual_10k.sh [N=10000] [TRIALS=5] [PODNET=target/release/podnet]
# Prints one line per trial: gc with both services tables deleted (the full load), then gc
# with them present; then the medians.
set -euo pipefail
N=${1:-10000}
TRIALS=${2:-5}
PODNET=$(realpath "${3:-target/release/podnet}")
if [ -z "${GC6_INSIDE:-}" ]; then
  exec env GC6_INSIDE=1 unshare --net --mount --pid --fork --mount-proc \
    --propagation private "$0" "$N" "$TRIALS" "$PODNET"
fi
mount -t tmpfs tmpfs /run
export PODNET_ROOT=/run/podnet-state PODNET_RUN_DIR=/run/podnet
ip link set lo up
p() { "$PODNET" "$@"; }
p network create dual --ipv6 --dns=false >/dev/null  # no agent: it would restore the tables each trial deletes
for k in $(seq 0 9); do
  p run -d --name "b$k" --network dual -l app=be -- sleep infinity >/dev/null
done
t0=$(date +%s)
for i in $(seq 1 "$N"); do
  p service create "s$i" --ip-family dual --port 80:8080 --selector app=be >/dev/null
done
echo "populated $N dual-stack services x 10 backends in $(( $(date +%s) - t0 )) s" >&2
ms() { local a b; a=$(date +%s%N); "$@" >/dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); }
full=() present=()
for t in $(seq 1 "$TRIALS"); do
  nft delete table ip podnet-svc
  nft delete table ip6 podnet-svc
  f=$(ms p gc)
  g=$(ms p gc)
  full+=("$f") present+=("$g")
  echo "trial $t: gc full load ${f} ms, gc tables present ${g} ms"
done
# Sanity: both tables back, with every VIP.
v4=$(nft -j list map ip podnet-svc service_ips | grep -o '"elem"' | wc -l)
echo "ip podnet-svc service_ips present: $v4 map(s); ip6: $(nft list table ip6 podnet-svc | grep -c 'fd00:43::' || true) lines with an IPv6 VIP" >&2
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $TRIALS: gc full load $(med "${full[@]}") ms, gc tables present $(med "${present[@]}") ms (load $(cut -d' ' -f1-3 /proc/loadavg))"
