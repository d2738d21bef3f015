#!/usr/bin/env python3
"""`podnet gc` (the services' full load) at N dual-stack services, paired A/B in CPU time.

Populating 10,000 services takes minutes, so the sandbox is filled once and kept:

  scripts/gc_ab.py hold N [PODNET]      # fill a sandbox, print its holder PID, wait (Ctrl-C ends it)
  scripts/gc_ab.py ab HOLDER A B [TRIALS=5]
  scripts/gc_ab.py perf HOLDER PODNET OUT.data   # perf record --call-graph dwarf of one full load

The sandbox is `unshare --net --mount --pid --fork --kill-child` with a tmpfs on /run (never
the machine's network): a `--ipv6` network, 10 containers `-l app=be`, N services
`--ip-family dual --port 80:8080 --selector app=be`. `ab` runs, per trial and binary (order
random per trial): delete `ip podnet-svc` and `ip6 podnet-svc`, `podnet gc` (full load), then
`podnet gc` again (tables present). Both binaries share the sandbox's store, so they must use
the same schema. Prints both medians and the median paired difference B - A, in CPU ms
(user + sys of the gc process) and wall ms. Needs root.
"""
import os, random, resource, statistics as st, subprocess, sys, time

ENV = ["env", "PODNET_ROOT=/run/podnet-state", "PODNET_RUN_DIR=/run/podnet"]


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e3


def inside(holder, *args, check=True):
    cmd = ["nsenter", "-t", str(holder), "-n", "-m", "-p", "--", *ENV, *args]
    c0, w0 = cpu_ms(), time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = (cpu_ms() - c0, (time.perf_counter() - w0) * 1e3)
    if check and r.returncode:
        raise SystemExit(f"{' '.join(args)}: {r.stderr.decode().strip()}")
    return took


def hold(n, podnet):
    podnet = os.path.realpath(podnet)
    script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up "
              "&& echo ready && exec sleep infinity")
    proc = subprocess.Popen(
        ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
         "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if proc.stdout.readline().strip() != b"ready":
        raise SystemExit("sandbox did not start")
    holder = int(open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()[0])
    print(f"holder {holder}", flush=True)
    try:
        # No DNS: no agent, whose nftables watch would restore the deleted tables before gc.
        inside(holder, podnet, "network", "create", "dual", "--ipv6", "--dns=false")
        for k in range(10):
            inside(holder, podnet, "run", "-d", "--name", f"b{k}", "--network", "dual",
                   "-l", "app=be", "--", "sleep", "infinity")
        t0 = time.time()
        for i in range(1, n + 1):
            inside(holder, podnet, "service", "create", f"s{i}", "--ip-family", "dual",
                   "--port", "80:8080", "--selector", "app=be")
            if i % 1000 == 0:
                print(f"{i} services ({time.time() - t0:.0f} s)", flush=True)
        print(f"ready: holder {holder}, {n} dual-stack services x 10 backends", flush=True)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()


def full_load(holder, podnet):
    inside(holder, "nft", "delete", "table", "ip", "podnet-svc", check=False)
    inside(holder, "nft", "delete", "table", "ip6", "podnet-svc", check=False)
    return inside(holder, podnet, "gc")


def ab(holder, a, b, trials):
    bins = {"A": os.path.realpath(a), "B": os.path.realpath(b)}
    data = {s: {"full cpu": [], "full wall": [], "present cpu": [], "present wall": []}
            for s in bins}
    for k in range(trials + 1):
        order = list(bins)
        random.shuffle(order)
        for s in order:
            fc, fw = full_load(holder, bins[s])
            pc, pw = inside(holder, bins[s], "gc")
            if k == 0:
                continue  # warm-up
            for key, v in (("full cpu", fc), ("full wall", fw), ("present cpu", pc),
                           ("present wall", pw)):
                data[s][key].append(v)
            print(f"trial {k} {s}: full {fc:.0f} ms CPU / {fw:.0f} wall, "
                  f"present {pc:.0f} / {pw:.0f}", flush=True)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"{'gc':<14} {'A median':>9} {'B median':>9} {'paired B-A':>11}  (ms; load {' '.join(load)})")
    for key in data["A"]:
        x, y = data["A"][key], data["B"][key]
        diff = st.median(q - p for p, q in zip(x, y))
        print(f"{key:<14} {st.median(x):9.0f} {st.median(y):9.0f} {diff:+11.0f}")


def perf(holder, podnet, out):
    podnet = os.path.realpath(podnet)
    inside(holder, "nft", "delete", "table", "ip", "podnet-svc", check=False)
    inside(holder, "nft", "delete", "table", "ip6", "podnet-svc", check=False)
    subprocess.run(["nsenter", "-t", str(holder), "-n", "-m", "-p", "--", *ENV, "perf",
                    "record", "-g", "--call-graph", "dwarf,16384", "-F", "2000", "-o",
                    os.path.realpath(out), podnet, "gc"], check=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hold":
        hold(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "target/release/podnet")
    elif cmd == "ab":
        ab(int(sys.argv[2]), sys.argv[3], sys.argv[4],
           int(sys.argv[5]) if len(sys.argv) > 5 else 5)
    elif cmd == "perf":
        perf(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
