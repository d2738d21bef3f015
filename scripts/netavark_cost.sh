#!/usr/bin/env bash
# What a container costs through netavark 2.1 with podnet as its plugin, beside podnet's own
# `attach -p`/`detach` and the plugin called directly, N rounds (default 30, the first 5
# dropped), in private namespaces with a tmpfs /run (nothing of the machine is touched).
#   scripts/netavark_cost.sh [N]      (needs root, netavark built by scripts/clients/prepare.sh)
set -euo pipefail
if [ "${1:-}" != --inside ]; then
  cd "$(dirname "$0")/.."
  nv=$(PODNET_CLIENTS_CHECK=1 scripts/clients/prepare.sh | sed -n 's/^PODNET_NETAVARK=//p')
  [ -x "$nv" ] || { echo "netavark is not built: run scripts/clients/prepare.sh" >&2; exit 1; }
  out=$(unshare --net --mount --pid --fork --mount-proc --propagation private \
    "$0" --inside "$nv" "$PWD/target/release/podnet" "${1:-30}")
  python3 - "$out" <<'PY'
import statistics as st, sys
rows = [list(map(int, l.split())) for l in sys.argv[1].splitlines() if l.strip()][5:]
names = ["netavark setup", "netavark teardown", "podnet attach -p", "podnet detach",
         "plugin setup (direct)", "plugin teardown (direct)"]
for i, n in enumerate(names):
    v = sorted(r[i] / 1000 for r in rows)
    print(f"{n:26} median {st.median(v):6.1f} ms  p90 {v[int(len(v) * .9)]:6.1f} ms  n={len(v)}")
PY
  exit
fi
nv=$2 pn=$3 n=$4
mount -t tmpfs none /run
export PODNET_ROOT=/run/pnroot PODNET_RUN_DIR=/run/podnet
mkdir -p /run/nvp /run/netns && ln -s "$pn" /run/nvp/podnet
ip link set lo up
nva=(--config /run/nv --plugin-directory /run/nvp)
id() { printf '%064d' "$1"; }
net='{"name":"pods","id":"'$(id 7)'","driver":"podnet","ipv6_enabled":false,"internal":false,"dns_enabled":false,"subnets":[{"subnet":"10.89.0.0/24"}]}'
echo '{"network":'"$net"',"used":{"interfaces":[],"names":{},"subnets":[]},"options":{"subnet_pools":[],"default_interface_name":"","check_used_subnets":false}}' |
  "$nv" "${nva[@]}" create > /run/net.json
t() { local s; s=$(date +%s%N); "$@" > /dev/null; echo $(( ($(date +%s%N) - s) / 1000 )); }
port() { echo '[{"container_port":80,"host_ip":"","host_port":'"$1"',"protocol":"tcp","range":1}]'; }
for i in $(seq 1 "$n"); do
  ip netns add "c$i"
  in='{"container_id":"'$(id "$i")'","container_name":"c'$i'","networks":{"pods":{"interface_name":"eth0"}},"network_info":{"pods":'$(cat /run/net.json)'},"port_mappings":'$(port $((20000 + i)))'}'
  a=$(echo "$in" | t "$nv" "${nva[@]}" setup "/run/netns/c$i")
  b=$(echo "$in" | t "$nv" "${nva[@]}" teardown "/run/netns/c$i")
  c=$(t "$pn" attach --netns "/run/netns/c$i" --name "x$i" --network pods -p $((21000 + i)):80)
  d=$(t "$pn" detach "x$i")
  pin='{"container_id":"'$(id "$i")'","container_name":"c'$i'","network_options":{"interface_name":"eth0"},"network":'$(cat /run/net.json)',"port_mappings":'$(port $((22000 + i)))'}'
  e=$(echo "$pin" | t "$pn" setup "/run/netns/c$i")
  f=$(echo "$pin" | t "$pn" teardown "/run/netns/c$i")
  echo "$a $b $c $d $e $f"
done
