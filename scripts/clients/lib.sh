# shellcheck shell=bash
# Shared by scripts/clients/*.sh: where the cache lives, how a cache key is made, and how a
# step reports itself. Sourced, never run.

# Everything built here lives outside any clone, so a second clone (or a second CI run on
# the same machine) finds it. Override with PODNET_CLIENTS_CACHE.
CACHE=${PODNET_CLIENTS_CACHE:-/var/cache/podnet-clients}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Prints a step's name now and its duration when it ends: `step NAME CMD...`.
step() {
  local name=$1 t0 t1 rc=0
  shift
  t0=$(date +%s.%N)
  echo "clients: $name ..." >&2
  "$@" || rc=$?
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$t0" -v b="$t1" -v rc="$rc" \
    'BEGIN { printf "clients: %s: %s in %.1f s\n", n, (rc == 0 ? "done" : "FAILED"), b - a }' >&2
  return "$rc"
}

# A short hash of everything on stdin: the cache key of a build's inputs.
key_of() { sha256sum | cut -c1-16; }

# Hash of files (content and name), in a stable order.
hash_files() {
  local f
  for f in "$@"; do printf '%s\n' "${f#"$REPO"/}"; cat "$f"; done | key_of
}

# Atomically publishes directory $1 as $2 (a build that dies half-way leaves no cache
# entry behind, only a .tmp that the next run replaces).
publish_dir() {
  rm -rf "$2"
  mv "$1" "$2"
}

die() { echo "clients: $*" >&2; exit 1; }

# Serialises builders of the same thing across clones and CI runs on this machine.
lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.$1.lock"
  flock 9
}

# Called before a build or an install. In check mode (PODNET_CLIENTS_CHECK=1, how the
# test bed asks for the paths) nothing is built: say what is missing instead.
building() {
  [ -z "${PODNET_CLIENTS_CHECK:-}" ] || die "$1 is not built yet: run scripts/clients/prepare.sh (or scripts/test.sh)"
}

# Marks cache entry $1 as used now, and drops the entries beside it (other keys of the same
# tool, e.g. older sources) that no run has used for 30 days.
used() {
  touch "$1"
  find "$(dirname "$1")" -mindepth 1 -maxdepth 1 -type d -name '????????????????' \
    -mtime +30 -exec rm -rf {} + 2>/dev/null || true
}
