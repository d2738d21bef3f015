#!/usr/bin/env python3
"""A/B of `podnet run -d -p` and `rm -f -p` between two podnet binaries, alternating A and B
per operation on one store and one network, so that the machine's load drift hits both alike
(what resolves a 0.5 ms difference on a loaded 2-core VM; benches/attach_detach.rs runs one
binary per sandbox). Runs itself inside a fresh sandbox (unshare: net, mount, PID; tmpfs on
/run); never touches the machine's own network. Needs root.

  scripts/ab_run_rm.py OLD_PODNET NEW_PODNET [N]     # N operations of each kind per binary
"""
import os, statistics, subprocess, sys, time

if os.environ.get("PODNET_AB_INSIDE") != "1":
    os.environ["PODNET_AB_INSIDE"] = "1"
    inner = "mount -t tmpfs tmpfs /run && mount -t sysfs sysfs /sys && ip link set lo up && exec \"$0\" \"$@\""
    os.execvp("unshare", ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
                          "--propagation", "private", "sh", "-c", inner, sys.executable] + sys.argv)

A, B = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 150
env = dict(os.environ, PODNET_ROOT="/run/ab-state", PODNET_RUN_DIR="/run/podnet")


def timed(binary, args):
    start = time.perf_counter()
    r = subprocess.run([binary] + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = (time.perf_counter() - start) * 1000
    if r.returncode:
        sys.exit(f"{binary} {' '.join(args)}: {r.stderr.decode().strip()}")
    return took


subprocess.run([B, "network", "create", "ab", "--subnet", "10.99.0.0/20"], env=env, check=True,
               stdout=subprocess.DEVNULL)
res = {k: [] for k in ("run A", "run B", "rm A", "rm B")}
pairs = lambda i: (("A", A), ("B", B)) if i % 2 == 0 else (("B", B), ("A", A))
for i in range(N):
    for tag, binary in pairs(i):
        port = str(20000 + 2 * i + (tag == "B"))
        res["run " + tag].append(timed(binary, ["run", "-d", "--name", f"{tag}{i}", "--network", "ab",
                                                "-p", f"{port}:80", "--", "sleep", "infinity"]))
        time.sleep(0.01)  # let deferred kernel work land outside the next timing
for i in range(N):
    for tag, binary in pairs(i):
        res["rm " + tag].append(timed(binary, ["rm", "-f", f"{tag}{i}"]))
        time.sleep(0.01)
for k, v in res.items():
    v = sorted(v)
    print(f"{k}: median {statistics.median(v):.2f} ms  p90 {v[int(len(v) * 0.9)]:.2f}  n={len(v)}")
