#!/usr/bin/env python3
# Exec cost of podnet's front ends, as a runtime pays it: one process per call, medians of
# 300 interleaved runs. The protocol layer only parses (the engine is not wired yet), so this
# is the floor under every CNI/netavark call. Run it in private namespaces (never on the
# machine's own network):
#   unshare --net --mount --pid --fork --mount-proc --propagation private \
#     sh -c 'mount -t tmpfs tmpfs /run && python3 scripts/plugin_exec_cost.py target/release/podnet'
import subprocess, time, statistics, sys, os
B = sys.argv[1]
conf = b'{"cniVersion":"1.1.0","name":"lab","type":"podnet","subnet":"10.9.0.0/24","runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}}'
base = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
cases = {
  "true": (["/bin/true"], {}, b""),
  "podnet --version": ([B, "--version"], {}, b""),
  "CNI VERSION": ([B], {"CNI_COMMAND": "VERSION"}, b'{"cniVersion":"1.1.0"}'),
  "CNI ADD parse (refused: not wired)": ([B], {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p"}, conf),
  "netavark info": ([B, "info"], {}, b""),
}
res = {k: [] for k in cases}
for i in range(300):
    for k, (argv, env, stdin) in cases.items():
        e = dict(base); e.update(env)
        t = time.perf_counter()
        subprocess.run(argv, env=e, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res[k].append(time.perf_counter() - t)
for k, v in res.items():
    print(f"{k:40s} median {statistics.median(v)*1000:.2f} ms  p90 {sorted(v)[int(len(v)*0.9)]*1000:.2f} ms")
