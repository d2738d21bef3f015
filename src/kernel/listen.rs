//! Whether a host program holds a port. A published port is DNAT'ed before any local socket
//! sees the packet, so publishing a port a host program listens on would silently steal its
//! traffic. The check is a bind() probe: a few microseconds, no /proc scan, no process.
//!
//! TCP probes with SO_REUSEADDR, so connections lingering in TIME_WAIT do not count but every
//! listener does (Linux refuses a second bind next to a LISTEN socket whatever its options).
//! UDP probes without it, so that any bound UDP socket counts, even one with SO_REUSEADDR.
//! An IPv6 wildcard socket that also takes IPv4 (`[::]:80`, v6only off) makes an IPv4 bind of
//! its port fail too, so it counts as it should; a v6only one does not (IPv4 DNAT cannot
//! reach it). Naming the holder (which scans /proc) happens only once a probe says "in use".
//! An IPv6 probe is v6only, so that it sees exactly the sockets IPv6 DNAT would steal from:
//! IPv6 listeners, dual-stack ones included, and not IPv4-only ones.

use crate::model::Proto;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{FromRawFd, OwnedFd};

/// What a probe of `HOSTIP:PORT/PROTO` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Free,
    /// Some socket of the host holds the port.
    InUse,
    /// The address is not one of the host's (EADDRNOTAVAIL).
    NotLocal,
}

/// A socket holding an in-use port: its process id and command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub command: String,
}

fn socket(ip: IpAddr, kind: libc::c_int, protocol: libc::c_int) -> Option<OwnedFd> {
    let domain = if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket() has no memory effects; the fd is owned (and closed) by OwnedFd.
    let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
    // SAFETY: fd is a fresh descriptor this function alone owns.
    let fd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })?;
    if ip.is_ipv6() {
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY);
    }
    Some(fd)
}

fn bind(fd: &OwnedFd, ip: IpAddr, port: u16) -> Probe {
    use std::os::fd::AsRawFd;
    let rc = match ip {
        IpAddr::V4(ip) => {
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: addr is a valid sockaddr_in of the size given, living across the call.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        IpAddr::V6(ip) => {
            let addr = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: port.to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: ip.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: addr is a valid sockaddr_in6 of the size given, living across the call.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if rc == 0 {
        return Probe::Free;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EADDRINUSE) => Probe::InUse,
        Some(libc::EADDRNOTAVAIL) => Probe::NotLocal,
        // Anything else (e.g. EACCES without CAP_NET_BIND_SERVICE) says nothing about other
        // programs: do not refuse on it.
        _ => Probe::Free,
    }
}

/// Turns an int socket option on.
fn set_int(fd: &OwnedFd, level: libc::c_int, option: libc::c_int) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid int option value and its size, living across the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            option,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn reuse_addr(fd: &OwnedFd) {
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR);
}

/// SCTP sockets exist only once the sctp module is loaded; creating a probe socket would load
/// it (a change to the whole machine), and without it nobody can hold an SCTP port.
fn sctp_loaded() -> bool {
    std::path::Path::new("/proc/net/sctp").exists()
}

/// Probe `ip:port/proto` (`ip` None = every IPv4 address, 0.0.0.0; `::` every IPv6 one).
pub fn probe(ip: Option<IpAddr>, port: u16, proto: Proto) -> Probe {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let fd = match proto {
        Proto::Tcp => socket(ip, libc::SOCK_STREAM, 0),
        Proto::Udp => socket(ip, libc::SOCK_DGRAM, 0),
        Proto::Sctp if sctp_loaded() => socket(ip, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
        Proto::Sctp => return address(ip),
    };
    let Some(fd) = fd else { return Probe::Free };
    if proto != Proto::Udp {
        reuse_addr(&fd);
    }
    bind(&fd, ip, port)
}

/// The IPv6 wildcard, for the IPv6 half of a dual-stack port published on every address.
pub const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// Whether `ip` is an address of the host (port 0: the kernel picks any free one).
pub fn address(ip: IpAddr) -> Probe {
    match socket(ip, libc::SOCK_DGRAM, 0) {
        Some(fd) => match bind(&fd, ip, 0) {
            Probe::NotLocal => Probe::NotLocal,
            _ => Probe::Free,
        },
        None => Probe::Free,
    }
}

/// Error path only: the process holding `port/proto`, found through the socket's inode in
/// /proc/net and the fds of /proc/PID. A listener is preferred over other sockets on the port.
pub fn holder(port: u16, proto: Proto) -> Option<Holder> {
    let tables: &[&str] = match proto {
        Proto::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
        Proto::Udp => &["/proc/net/udp", "/proc/net/udp6"],
        Proto::Sctp => return None,
    };
    let mut inodes: Vec<(bool, String)> = Vec::new();
    for t in tables {
        let Ok(text) = std::fs::read_to_string(t) else {
            continue;
        };
        inodes.extend(text.lines().skip(1).filter_map(|l| socket_on(l, port)));
    }
    // Listeners (true) first.
    inodes.sort_by_key(|(listen, _)| !listen);
    inodes
        .iter()
        .find_map(|(_, inode)| process_of(&format!("socket:[{inode}]")))
}

/// From a /proc/net/{tcp,udp}[6] line: (is a TCP listener, inode) when its local port is
/// `port`.
fn socket_on(line: &str, port: u16) -> Option<(bool, String)> {
    const TCP_LISTEN: &str = "0A";
    let f: Vec<&str> = line.split_whitespace().collect();
    let local_port = f.get(1)?.rsplit_once(':')?.1;
    let inode = *f.get(9)?;
    (u16::from_str_radix(local_port, 16).ok()? == port && inode != "0")
        .then(|| (f.get(3) == Some(&TCP_LISTEN), inode.to_string()))
}

fn process_of(link: &str) -> Option<Holder> {
    for dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = dir.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(dir.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == link));
        if holds {
            let command = std::fs::read_to_string(dir.path().join("comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            return Some(Holder { pid, command });
        }
    }
    None
}

/// The kernel's ephemeral port range (`ip_local_port_range`) less the ports it keeps for
/// programs that bind fixed ones (`ip_local_reserved_ports`): where random host ports come
/// from, as Docker's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    pub lo: u16,
    pub hi: u16,
    reserved: Vec<(u16, u16)>,
}

impl Ephemeral {
    /// Read from /proc/sys (per network namespace); Linux's defaults when unreadable.
    pub fn read() -> Ephemeral {
        let get = |k: &str| super::sysctl::get(k).unwrap_or_default();
        Ephemeral::parse(
            &get("net.ipv4.ip_local_port_range"),
            &get("net.ipv4.ip_local_reserved_ports"),
        )
    }

    fn parse(range: &str, reserved: &str) -> Ephemeral {
        let nums: Vec<u16> = range
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let (lo, hi) = match nums[..] {
            [lo, hi] if 0 < lo && lo <= hi => (lo, hi),
            _ => (32768, 60999),
        };
        let reserved = reserved
            .split(',')
            .filter_map(|r| {
                let (a, b) = r.trim().split_once('-').unwrap_or((r.trim(), r.trim()));
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        Ephemeral { lo, hi, reserved }
    }

    pub fn is_reserved(&self, port: u16) -> bool {
        self.reserved.iter().any(|&(a, b)| (a..=b).contains(&port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_range_and_reserved_ports() {
        let e = Ephemeral::parse("32768\t60999\n", "8080,9000-9002\n");
        assert_eq!((e.lo, e.hi), (32768, 60999));
        assert!(e.is_reserved(8080) && e.is_reserved(9001));
        assert!(!e.is_reserved(9003) && !e.is_reserved(32768));
        let e = Ephemeral::parse("", "");
        assert_eq!((e.lo, e.hi, e.is_reserved(0)), (32768, 60999, false));
    }

    #[test]
    fn reads_proc_net_lines() {
        let listen = "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0";
        assert_eq!(socket_on(listen, 8080), Some((true, "4242".into())));
        assert_eq!(socket_on(listen, 8081), None);
        let udp6 = "  12: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0000000000000000 0";
        assert_eq!(socket_on(udp6, 53), Some((false, "77".into())));
        let time_wait = "   1: 0100007F:1F90 0100007F:D2F0 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000";
        assert_eq!(socket_on(time_wait, 8080), None);
    }
}
