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
  reach HOST... [--port P] [--timeout S]
      TCP-connects to each HOST:P. A host counts as reachable when the connection is
      accepted or refused (a RST proves the packet got there and back). Prints
      `HOST ok|FAIL reason`; exit 0 if all were reachable.
"""
import argparse
import errno
import os
import socket
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


def tcp_once(host, port, timeout, retry_for, send):
    deadline = time.monotonic() + retry_for
    while True:
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
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


def udp_once(host, port, timeout, retry_for, send):
    deadline = time.monotonic() + retry_for
    while True:
        with socket.socket(family(host), socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            try:
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
        line = once(args.host, args.port, args.timeout, args.retry_for, args.send)
        if line is None:
            ok = False
        else:
            print(line, flush=True)
    return 0 if ok else 1


def reach(args):
    ok = True
    for host in args.hosts:
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        try:
            s.connect((host, args.port))
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
    return reach(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(errno.EPIPE)
