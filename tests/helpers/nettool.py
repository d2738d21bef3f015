#!/usr/bin/env python3
"""Tiny traffic tool for podnet's sandboxed tests (stdlib only).

  serve tcp|udp PORT [--bind ADDR] [--reply TEXT] [--ready-file PATH]
      Replies TEXT + newline to each TCP connection (then closes) or UDP datagram,
      forever. `{peer}` in TEXT is replaced by the client's address. Prints
      `listening PROTO ADDR PORT` once bound; touches --ready-file then too.
  connect tcp|udp HOST PORT [--count N] [--timeout S] [--retry-for S] [--send TEXT]
      Makes N connections (TCP) or sends N datagrams (UDP), printing each reply line.
      Exit 0 if every one got a reply, 1 otherwise. --retry-for retries a refused
      connection for up to S seconds (waiting for a server to come up).
  connect ... --source ADDR binds the client to ADDR first (a forged source, in spoofing tests).
  arp IFACE --op request|reply --sender-ip IP --target-ip IP [--sender-mac MAC]
      [--target-mac MAC] [--eth-src MAC] [--eth-dst MAC] [--count N] [--interval S]
      Sends N raw Ethernet/IPv4 ARP frames on IFACE (AF_PACKET). MACs default to IFACE's
      own (sender, Ethernet source) and broadcast (Ethernet destination); the target MAC to
      zero for a request and the Ethernet destination for a reply. A gratuitous ARP is
      --sender-ip X --target-ip X.
  raw6 IFACE --kind na|ns|syn --src IP --dst IP [--target IP] [--dport P]
      [--eth-src MAC] [--eth-dst MAC] [--lladdr MAC] [--count N]
      Sends N raw Ethernet/IPv6 frames on IFACE: a Neighbor Advertisement (Override set,
      target --target, target link-layer option --lladdr), a Neighbor Solicitation (target
      --target; source link-layer option unless --src is ::) or a TCP SYN to --dport.
      Ethernet source defaults to IFACE's MAC; destination to the multicast MAC of --dst
      (33:33:...) when --dst is multicast, else --eth-dst (required then).
  reach HOST... [--port P] [--timeout S]
      TCP-connects to each HOST:P. A host counts as reachable when the connection is
      accepted or refused (a RST proves the packet got there and back). Prints
      `HOST ok|FAIL reason`; exit 0 if all were reachable.
"""
import argparse
import errno
import os
import socket
import struct
import sys
import time


def default_reply():
    return f"{socket.gethostname()}:{os.getpid()}"


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(args):
    reply = args.reply if args.reply is not None else default_reply()
    kind = socket.SOCK_STREAM if args.proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family(args.bind), kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.bind, args.port))
    if args.proto == "tcp":
        sock.listen(128)
    print(f"listening {args.proto} {args.bind} {args.port}", flush=True)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("ready\n")
    while True:
        if args.proto == "tcp":
            conn, peer = sock.accept()
            try:
                conn.sendall((reply.replace("{peer}", peer[0]) + "\n").encode())
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            finally:
                conn.close()
        else:
            _, peer = sock.recvfrom(65535)
            try:
                sock.sendto((reply.replace("{peer}", peer[0]) + "\n").encode(), peer)
            except OSError:
                pass


def tcp_once(host, port, timeout, retry_for, send, source=None):
    deadline = time.monotonic() + retry_for
    while True:
        try:
            src = (source, 0) if source else None
            with socket.create_connection((host, port), timeout=timeout, source_address=src) as s:
                if send:
                    s.sendall(send.encode())
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.decode(errors="replace").rstrip("\n") if data else None
        except ConnectionRefusedError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            print(f"refused {host}:{port}", file=sys.stderr)
            return None
        except OSError as e:
            print(f"error {host}:{port}: {e}", file=sys.stderr)
            return None


def udp_once(host, port, timeout, retry_for, send, source=None):
    deadline = time.monotonic() + retry_for
    while True:
        with socket.socket(family(host), socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            try:
                if source:
                    s.bind((source, 0))
                s.connect((host, port))
                s.send((send or "ping").encode())
                data = s.recv(65535)
                return data.decode(errors="replace").rstrip("\n")
            except ConnectionRefusedError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                print(f"refused {host}:{port}", file=sys.stderr)
                return None
            except OSError as e:
                print(f"error {host}:{port}: {e}", file=sys.stderr)
                return None


def connect(args):
    once = tcp_once if args.proto == "tcp" else udp_once
    ok = True
    for _ in range(args.count):
        line = once(args.host, args.port, args.timeout, args.retry_for, args.send, args.source)
        if line is None:
            ok = False
        else:
            print(line, flush=True)
    return 0 if ok else 1


def mac(text):
    raw = bytes(int(x, 16) for x in text.split(":"))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {text}")
    return raw


def arp(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    own = s.getsockname()[4]
    op = 1 if args.op == "request" else 2
    eth_src = mac(args.eth_src) if args.eth_src else own
    eth_dst = mac(args.eth_dst) if args.eth_dst else b"\xff" * 6
    sha = mac(args.sender_mac) if args.sender_mac else own
    if args.target_mac:
        tha = mac(args.target_mac)
    else:
        tha = b"\0" * 6 if op == 1 else eth_dst
    frame = (
        eth_dst
        + eth_src
        + struct.pack("!H", 0x0806)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
        + sha
        + socket.inet_aton(args.sender_ip)
        + tha
        + socket.inet_aton(args.target_ip)
    )
    for i in range(args.count):
        if i:
            time.sleep(args.interval)
        s.send(frame)
    s.close()
    print(f"sent {args.count} ARP {args.op} {args.sender_ip} is-at {sha.hex(':')}", flush=True)
    return 0


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def raw6(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    own = s.getsockname()[4]
    src = socket.inet_pton(socket.AF_INET6, args.src)
    dst = socket.inet_pton(socket.AF_INET6, args.dst)
    lladdr = mac(args.lladdr) if args.lladdr else own
    target = socket.inet_pton(socket.AF_INET6, args.target) if args.target else dst
    if args.kind == "syn":
        nh = 6
        body = struct.pack("!HHIIBBHHH", 40000, args.dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
        csum_at = 16
    else:
        nh = 58
        if args.kind == "na":
            body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target + bytes([2, 1]) + lladdr
        else:
            opt = b"" if src == b"\0" * 16 else bytes([1, 1]) + lladdr
            body = struct.pack("!BBHI", 135, 0, 0, 0) + target + opt
        csum_at = 2
    pseudo = src + dst + struct.pack("!IxxxB", len(body), nh)
    c = checksum(pseudo + body)
    body = body[:csum_at] + struct.pack("!H", c) + body[csum_at + 2:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), nh, 255) + src + dst
    if args.eth_dst:
        eth_dst = mac(args.eth_dst)
    elif dst[0] == 0xFF:
        eth_dst = b"\x33\x33" + dst[12:]
    else:
        raise SystemExit("--eth-dst is needed for a unicast --dst")
    eth_src = mac(args.eth_src) if args.eth_src else own
    frame = eth_dst + eth_src + struct.pack("!H", 0x86DD) + ip6 + body
    for i in range(args.count):
        if i:
            time.sleep(0.05)
        s.send(frame)
    s.close()
    print(f"sent {args.count} {args.kind} {args.src} -> {args.dst}", flush=True)
    return 0


def ra(args):
    """Send router advertisements (RFC 4861 4.2) to all nodes on IFACE: a router that
    offers itself as default for LIFETIME seconds. The kernel fills in the checksum and the
    link-local source; hop limit 255, as receivers require."""
    index = socket.if_nametoindex(args.iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    # type 134, code 0, checksum 0, cur hop limit 64, flags 0, router lifetime,
    # reachable time 0, retrans timer 0
    msg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, args.lifetime, 0, 0)
    for i in range(args.count):
        s.sendto(msg, ("ff02::1", 0, 0, index))
        if i + 1 < args.count:
            time.sleep(args.interval)
    s.close()
    print(f"sent {args.count} RA on {args.iface} lifetime {args.lifetime}", flush=True)
    return 0


def reach(args):
    ok = True
    for host in args.hosts:
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        try:
            # getaddrinfo reads a link-local address's %IFACE zone.
            s.connect(socket.getaddrinfo(host, args.port, family(host), socket.SOCK_STREAM)[0][4])
            print(f"{host} ok accepted")
        except ConnectionRefusedError:
            print(f"{host} ok refused")
        except OSError as e:
            ok = False
            print(f"{host} FAIL {e}")
        finally:
            s.close()
    sys.stdout.flush()
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("proto", choices=["tcp", "udp"])
    s.add_argument("port", type=int)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--reply")
    s.add_argument("--ready-file")
    c = sub.add_parser("connect")
    c.add_argument("proto", choices=["tcp", "udp"])
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--timeout", type=float, default=5.0)
    c.add_argument("--retry-for", type=float, default=0.0)
    c.add_argument("--send")
    c.add_argument("--source")
    a = sub.add_parser("arp")
    a.add_argument("iface")
    a.add_argument("--op", choices=["request", "reply"], default="request")
    a.add_argument("--sender-ip", required=True)
    a.add_argument("--target-ip", required=True)
    a.add_argument("--sender-mac")
    a.add_argument("--target-mac")
    a.add_argument("--eth-src")
    a.add_argument("--eth-dst")
    a.add_argument("--count", type=int, default=1)
    a.add_argument("--interval", type=float, default=0.05)
    x = sub.add_parser("raw6")
    x.add_argument("iface")
    x.add_argument("--kind", choices=["na", "ns", "syn"], required=True)
    x.add_argument("--src", required=True)
    x.add_argument("--dst", required=True)
    x.add_argument("--target")
    x.add_argument("--dport", type=int, default=80)
    x.add_argument("--eth-src")
    x.add_argument("--eth-dst")
    x.add_argument("--lladdr")
    x.add_argument("--count", type=int, default=3)
    ra_p = sub.add_parser("ra")
    ra_p.add_argument("iface")
    ra_p.add_argument("--lifetime", type=int, default=1800)
    ra_p.add_argument("--count", type=int, default=1)
    ra_p.add_argument("--interval", type=float, default=0.2)
    r = sub.add_parser("reach")
    r.add_argument("hosts", nargs="+")
    r.add_argument("--port", type=int, default=9)
    r.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    if args.cmd == "connect":
        return connect(args)
    if args.cmd == "arp":
        return arp(args)
    if args.cmd == "raw6":
        return raw6(args)
    if args.cmd == "ra":
        return ra(args)
    return reach(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(errno.EPIPE)
