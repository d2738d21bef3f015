#!/usr/bin/env python3
"""CNI ADD/DEL as a runtime execs podnet (env + stdin), beside `podnet attach -p`/`detach`,
one published port each, at several numbers of existing pods. Runs itself in a private
sandbox (net, mount, pid namespaces; tmpfs /run): never touches the machine's network.

    python3 scripts/cni_bench.py [--levels 0,100,300] [--rounds 20] [--podnet target/release/podnet]

Prints one line per level: medians (ms) of attach -p, detach, CNI ADD, CNI DEL. The two
kinds alternate within each round, so load from other processes hits both alike.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = "/run/pn-bench/state"


def sandboxed(argv):
    if os.environ.get("PN_BENCH_INSIDE") == "1":
        return
    env = dict(os.environ, PN_BENCH_INSIDE="1")
    inner = "mount -t tmpfs tmpfs /run && ip link set lo up && exec " + " ".join(
        ["'%s'" % a for a in [sys.executable, os.path.abspath(__file__)] + argv])
    os.execvpe("unshare", ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
                           "--propagation", "private", "sh", "-c", inner], env)


def run(argv, stdin=None, env=None):
    t = time.perf_counter()
    p = subprocess.run(argv, input=stdin, env=env, capture_output=True)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (argv, p.stdout.decode(), p.stderr.decode()))
    return dt


CONF = {"cniVersion": "1.0.0", "name": "pods", "type": "podnet", "subnet": "10.60.0.0/16",
        "capabilities": {"portMappings": True}}


def cni(podnet, verb, cid, port):
    conf = dict(CONF, runtimeConfig={"portMappings": [
        {"hostPort": port, "containerPort": 80, "protocol": "tcp"}]})
    env = {"PATH": os.environ["PATH"], "PODNET_ROOT": ROOT, "CNI_COMMAND": verb,
           "CNI_CONTAINERID": cid, "CNI_NETNS": "/run/netns/" + cid, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/usr/lib/cni"}
    return run([podnet], json.dumps(conf).encode(), env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="0,100,300")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--podnet", default="target/release/podnet")
    a = ap.parse_args()
    sandboxed(sys.argv[1:])
    podnet = os.path.abspath(a.podnet)
    cli_env = dict(os.environ, PODNET_ROOT=ROOT)
    run([podnet, "network", "create", "pods", "--subnet", CONF["subnet"]], env=cli_env)
    existing = 0
    port = 20000
    for level in [int(x) for x in a.levels.split(",")]:
        while existing < level:
            cid = "fill%d" % existing
            subprocess.run(["ip", "netns", "add", cid], check=True)
            port += 1
            cni(podnet, "ADD", cid, port)
            existing += 1
        times = {"attach -p": [], "detach": [], "CNI ADD": [], "CNI DEL": []}
        for r in range(a.rounds):
            for kind in ("cli", "cni"):
                cid = "%s%d_%d" % (kind, level, r)
                subprocess.run(["ip", "netns", "add", cid], check=True)
                port += 1
                if kind == "cli":
                    times["attach -p"].append(run(
                        [podnet, "attach", "--netns", "/run/netns/" + cid, "--name", cid,
                         "--network", "pods", "-p", "%d:80" % port], env=cli_env))
                    times["detach"].append(run([podnet, "detach", cid], env=cli_env))
                else:
                    times["CNI ADD"].append(cni(podnet, "ADD", cid, port))
                    times["CNI DEL"].append(cni(podnet, "DEL", cid, port))
                subprocess.run(["ip", "netns", "del", cid], check=True)
        print("pods=%d  " % level + "  ".join(
            "%s %.2f ms" % (k, statistics.median(v)) for k, v in times.items()), flush=True)


if __name__ == "__main__":
    main()
