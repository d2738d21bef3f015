#!/usr/bin/env python3
"""A small netavark driver plugin (plugin API 1.0.0) for the client harness tests: it logs
every call and really connects the container, so traffic proves netavark ran it.

  nv_bridge_plugin.py --log FILE info|create|setup NETNS|teardown NETNS   (JSON on stdin)

setup: a bridge named by the network's `network_interface` (made with the first subnet's
gateway address if missing), a veth whose peer becomes the container's interface in NETNS
with its `static_ips` and a default route via the gateway; prints the status block.
teardown: deletes the host end of that veth (the peer goes with it)."""
import json
import subprocess
import sys


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def host_veth(container_id):
    return "nv" + container_id[:12]


def main():
    args = sys.argv[1:]
    log = args[1] if args[:1] == ["--log"] else None
    if log:
        args = args[2:]
    raw = sys.stdin.read() if args and args[0] != "info" else ""
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"args": args, "stdin": json.loads(raw) if raw else None}) + "\n")
    cmd = args[0] if args else ""
    if cmd == "info":
        print(json.dumps({"version": "0.1.0", "api_version": "1.0.0"}))
    elif cmd == "create":
        print(raw)
    elif cmd == "setup":
        req, netns = json.loads(raw), args[1]
        net, opts = req["network"], req["network_options"]
        bridge = net.get("network_interface") or "nvbr0"
        subnet = net["subnets"][0]
        prefix = subnet["subnet"].split("/")[1]
        gw = subnet["gateway"]
        if subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode:
            sh("ip", "link", "add", bridge, "type", "bridge")
            sh("ip", "addr", "add", f"{gw}/{prefix}", "dev", bridge)
            sh("ip", "link", "set", bridge, "up")
        veth, ifname = host_veth(req["container_id"]), opts["interface_name"]
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", ifname, "netns", netns)
        sh("ip", "link", "set", veth, "master", bridge, "up")
        inside = ["nsenter", f"--net={netns}", "ip"]
        ip = opts["static_ips"][0]
        sh(*inside, "addr", "add", f"{ip}/{prefix}", "dev", ifname)
        sh(*inside, "link", "set", ifname, "up")
        sh(*inside, "link", "set", "lo", "up")
        sh(*inside, "route", "add", "default", "via", gw)
        mac = subprocess.run(inside + ["-j", "link", "show", ifname], check=True,
                             capture_output=True, text=True).stdout
        status = {
            "dns_search_domains": [],
            "dns_server_ips": [],
            "interfaces": {ifname: {
                "mac_address": json.loads(mac)[0]["address"],
                "subnets": [{"ipnet": f"{ip}/{prefix}", "gateway": gw}],
            }},
        }
        print(json.dumps(status))
    elif cmd == "teardown":
        req = json.loads(raw)
        subprocess.run(["ip", "link", "del", host_veth(req["container_id"])],
                       capture_output=True)
    else:
        print(json.dumps({"error": f"unknown subcommand {cmd!r}"}))
        sys.exit(1)


if __name__ == "__main__":
    main()
