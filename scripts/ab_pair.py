#!/usr/bin/env python3
"""Paired A/B of podnet's hot path between two binaries, each in its own sandbox (so their
stores and netfilter tables never meet: works across schema changes, which
scripts/ab_run_rm.py's shared store does not). Both sandboxes are filled to the same level
(N attached namespaces, one published port each); then every trial runs the same ops on A and
on B back to back, in random order, so the machine's load drift hits both alike. Prints, per
level and op, both medians and the median of the paired differences B - A (what resolves a
0.5 ms change on a loaded 2-core VM). Each op runs as `nsenter -t HOLDER -n -m -p podnet ...`:
the nsenter spawn is the same on both sides (`true` is the control).

Sandboxes: `unshare --net --mount --pid --fork --kill-child`, tmpfs on /run; nothing touches
the machine's own network. Needs root.

  scripts/ab_pair.py A_PODNET B_PODNET [TRIALS=100] [LEVELS=0,100,300]
  env: AB_OPS=run   only run -d / rm -f (with and without -p), no attach/detach
       AB_OPS=cni   only CNI ADD and DEL
       AB_AGENT=1   start `podnet agent` on both sides (CNI calls are then handed to it)
       AB_CPU=1     CPU time (user+sys of the command and the children it waited for) instead
                    of wall time: on a machine others load, wall time mostly measures them
       AB_CNI=1     also CNI ADD and DEL (one port mapping, a fresh namespace, env + config
                    on stdin as a runtime execs the plugin)
       AB_OUT=FILE  raw timings as JSON
       AB_NET=NAME  fill and run on a user network NAME (10.77.0.0/16) instead of podnet0,
                    made on side A with `network create NAME ... $AB_NET_ARGS_A` and on B with
                    $AB_NET_ARGS_B: e.g. AB_NET=app AB_NET_ARGS_A=--dns=false (same binary both
                    sides) measures what a DNS network (the agent's sync) adds to the hot path
"""
import json, os, random, resource, statistics as st, subprocess, sys, time

A, B = sys.argv[1], sys.argv[2]
TRIALS = int(sys.argv[3]) if len(sys.argv) > 3 else 100
LEVELS = [int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else "0,100,300").split(",")]
SETTLE = 0.01
CPU = os.environ.get("AB_CPU") == "1"
NET = os.environ.get("AB_NET")
OPS = os.environ.get("AB_OPS")
# `--network NAME` for every op, when the ops run on a user network.
ON = ["--network", NET] if NET else []


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e3
WARMUP = 3


class Side:
    def __init__(self, name, binary):
        self.name, self.bin, self.n = name, binary, 0
        script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up "
                  "&& echo ready && exec sleep infinity")
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
             "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            raise SystemExit(f"{name}: sandbox did not start")
        # The holder (PID 1 inside) is unshare's only child.
        kids = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()
        self.holder = int(kids[0])

    def run(self, *args, stdin=None):
        cmd = ["nsenter", "-t", str(self.holder), "-n", "-m", "-p", "--",
               "env", "PODNET_ROOT=/run/podnet-state", *args]
        before = cpu_ms()
        start = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, input=stdin)
        took = (time.perf_counter() - start) * 1e3
        if CPU:
            took = cpu_ms() - before
        if r.returncode:
            raise SystemExit(f"{self.name}: {' '.join(args)}: {r.stderr.decode().strip()}")
        return took

    def podnet(self, *args):
        return self.run(self.bin, *args)

    def netns(self, name):
        self.run("ip", "netns", "add", name)
        return f"/run/netns/{name}"

    def fill_to(self, n):
        while self.n < n:
            ns = self.netns(f"fill{self.n}")
            self.podnet("attach", "--netns", ns, "--name", f"fill{self.n}", *ON,
                        "-p", f"{20000 + self.n}:80")
            self.n += 1

    def cni(self, verb, k):
        conf = json.dumps({
            "cniVersion": "1.0.0", "name": "podnet0", "type": "podnet",
            "capabilities": {"portMappings": True},
            "runtimeConfig": {"portMappings": [
                {"hostPort": 30002, "containerPort": 80, "protocol": "tcp"}]},
        }).encode()
        return self.run(f"CNI_COMMAND={verb}", f"CNI_CONTAINERID=c{k}",
                        f"CNI_NETNS=/run/netns/c{k}", "CNI_IFNAME=eth0", "CNI_PATH=/nonexistent",
                        self.bin, stdin=conf)

    def trial(self, k):
        out = {}
        if os.environ.get("AB_CNI") == "1" or OPS == "cni":
            self.netns(f"c{k}")
            out["cni add"] = self.cni("ADD", k)
            time.sleep(SETTLE)
            out["cni del"] = self.cni("DEL", k)
            self.run("ip", "netns", "del", f"c{k}")
            time.sleep(SETTLE)
        if OPS == "cni":
            return out
        if OPS != "run":
            ns = self.netns(f"t{k}")
            out["attach -p"] = self.podnet("attach", "--netns", ns, "--name", f"a{k}", *ON,
                                           "-p", "30000:80")
            time.sleep(SETTLE)
            out["detach -p"] = self.podnet("detach", f"a{k}")
            self.run("ip", "netns", "del", f"t{k}")
            time.sleep(SETTLE)
        out["run -d -p"] = self.podnet("run", "-d", "--name", f"r{k}", *ON, "-p", "30001:80",
                                       "--", "sleep", "infinity")
        time.sleep(SETTLE)
        out["rm -f -p"] = self.podnet("rm", "-f", f"r{k}")
        time.sleep(SETTLE)
        out["run -d"] = self.podnet("run", "-d", "--name", f"s{k}", *ON, "--", "sleep",
                                    "infinity")
        time.sleep(SETTLE)
        out["rm -f"] = self.podnet("rm", "-f", f"s{k}")
        time.sleep(SETTLE)
        out["true"] = self.run("true")
        return out

    def close(self):
        self.proc.kill()
        self.proc.wait()


sides = [Side("A", A), Side("B", B)]
try:
    for s in sides:
        s.podnet("network", "create", "podnet0")
        if NET:
            extra = os.environ.get(f"AB_NET_ARGS_{s.name}", "").split()
            s.podnet("network", "create", NET, "--subnet", "10.77.0.0/16", *extra)
        if os.environ.get("AB_AGENT") == "1":
            s.podnet("agent")
    results = {}
    print(f"{'n':>4} {'op':<10} {'A median':>9} {'B median':>9} {'paired B-A':>11}  "
          f"({'CPU ' if CPU else ''}ms)")
    for n in LEVELS:
        for s in sides:
            s.fill_to(n)
        time.sleep(0.2)
        data = {"A": {}, "B": {}}
        for k in range(TRIALS + WARMUP):
            order = sides[:]
            random.shuffle(order)
            for s in order:
                r = s.trial(f"{n}x{k}")
                if k >= WARMUP:
                    for op, v in r.items():
                        data[s.name].setdefault(op, []).append(v)
        results[n] = data
        for op in data["A"]:
            a, b = data["A"][op], data["B"][op]
            diff = st.median(y - x for x, y in zip(a, b))
            print(f"{n:>4} {op:<10} {st.median(a):9.2f} {st.median(b):9.2f} {diff:+11.2f}",
                  flush=True)
    if os.environ.get("AB_OUT"):
        json.dump(results, open(os.environ["AB_OUT"], "w"))
finally:
    for s in sides:
        s.close()
