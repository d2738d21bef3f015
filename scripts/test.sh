#!/usr/bin/env bash
# Runs podnet's whole test suite: unit tests plus the hermetic acceptance tests, in
# parallel. Every acceptance test makes its own sandbox (fresh network + mount + PID
# namespaces, see src/testbed/) and never touches this machine's own network.
# Needs root (namespaces). Installs the Debian packages the tests use when missing.
# Extra arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the tests make network namespaces and need root" >&2
  exit 1
fi

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
# Every tool a test runs: a test whose tool is missing fails (it never skips), so all are
# installed here.
{ have ip && have ss; } || missing+=(iproute2)
{ have ps && have sysctl; } || missing+=(procps)
[ -x /usr/bin/python3 ] || have python3 || missing+=(python3)
{ have unshare && have nsenter; } || missing+=(util-linux)
have nft || missing+=(nftables)
have iperf3 || missing+=(iperf3)
have iptables || missing+=(iptables)
have conntrack || missing+=(conntrack)
have dig || missing+=(bind9-dnsutils)
have getent || missing+=(libc-bin)
have ping || missing+=(iputils-ping)
# The cluster tests run a real etcd (3.4, Debian's) inside their sandboxes.
have etcd || missing+=(etcd-server)
have etcdctl || missing+=(etcd-client)
# The ui tests (tests/ui.rs) drive the page in headless Chromium inside their sandboxes.
have chromium || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # No package may start a service here (etcd-server would): policy-rc.d refuses them all.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
# Docker's rules live in iptables' nf_tables backend, and the coexistence tests need it.
if ! iptables --version 2>/dev/null | grep -q nf_tables; then
  echo "scripts/test.sh: iptables must use the nf_tables backend:" \
    "update-alternatives --set iptables /usr/sbin/iptables-nft" >&2
  exit 1
fi

# The client tests (tests/clients_*.rs) drive real runtimes: podman, containerd, netavark
# 2.1, libcni. Install and build what they need (cached outside the clone, keyed by the
# inputs: instant once done) and hand the paths to the tests.
clients_env=$(bash scripts/clients/prepare.sh)
while IFS= read -r line; do
  export "${line?}"
done <<<"$clients_env"

# Sandboxes spend most of their time waiting on processes and the kernel, so run more
# tests at once than there are cores.
threads="${PODNET_TEST_THREADS:-4}"
# Unit tests run inside a sandbox of their own (fresh network, mount and PID namespaces, tmpfs
# on /run): one that reaches the engine by mistake meets an empty namespace, never the
# machine's network (one once made a bridge and nft tables on the host), and what it made dies
# with it. bash stays PID 1 there (no exec) so orphans are reaped. The acceptance tests make
# their own sandboxes (src/testbed) and run after, as before.
sandboxed() {
  unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
    bash -c 'mount -t tmpfs -o mode=755 podnet-tests /run && ip link set lo up && "$@"; exit $?' \
    podnet-tests "$@"
}
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --no-run
  unit=0
  sandboxed cargo nextest run --release --offline --no-fail-fast --test-threads "$threads" \
    --no-tests=pass --lib --bins "$@" || unit=$?
  cargo nextest run --release --no-fail-fast --test-threads "$threads" --no-tests=pass --test '*' "$@"
  exit "$unit"
else
  cargo test --release --no-run
  unit=0
  sandboxed cargo test --release --offline --no-fail-fast --lib --bins "$@" \
    -- --test-threads "$threads" || unit=$?
  cargo test --release --no-fail-fast --test '*' "$@" -- --test-threads "$threads"
  exit "$unit"
fi
