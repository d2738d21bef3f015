//! Listening sockets on a gateway address, pinned to the bridge.
//!
//! IP_FREEBIND lets the server bind a gateway address before the kernel considers it ready
//! (an IPv6 address is "tentative" for a while after it is added). SO_BINDTODEVICE limits
//! the socket to packets that arrived on the bridge: Linux delivers a packet for any local
//! address whatever interface it came in on (the weak host model), so without it a LAN
//! neighbour routing the bridge subnet via this host could use the resolver.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// IPV6_FREEBIND (linux/in6.h); libc lacks the constant for some targets.
const IPV6_FREEBIND: libc::c_int = 78;
/// UDP sockets get a large receive buffer so a burst of queries waits instead of being
/// dropped while the worker answers.
const UDP_RCVBUF: libc::c_int = 4 << 20;

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn setopt(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &[u8]) -> io::Result<()> {
    // SAFETY: value points to value.len() readable bytes for the duration of the call.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    })
}

fn setint(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    setopt(fd, level, name, &v.to_ne_bytes())
}

fn bound(addr: SocketAddr, kind: libc::c_int, device: Option<&str>) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket() has no memory effects; the fd is owned (and closed) by OwnedFd.
    let raw = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) };
    check(raw)?;
    // SAFETY: raw is a fresh descriptor this function alone owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let f = fd.as_raw_fd();
    match addr {
        SocketAddr::V4(_) => setint(f, libc::SOL_IP, libc::IP_FREEBIND, 1)?,
        SocketAddr::V6(_) => {
            setint(f, libc::SOL_IPV6, IPV6_FREEBIND, 1)?;
            setint(f, libc::SOL_IPV6, libc::IPV6_V6ONLY, 1)?;
        }
    }
    if kind == libc::SOCK_STREAM {
        setint(f, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    } else if setint(f, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, UDP_RCVBUF).is_err() {
        // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
        setint(f, libc::SOL_SOCKET, libc::SO_RCVBUF, UDP_RCVBUF)?;
    }
    if let Some(dev) = device {
        setopt(f, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, dev.as_bytes())?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: storage holds a valid sockaddr of len bytes.
    check(unsafe { libc::bind(f, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(fd)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A UDP socket on `ip:port`, pinned to `device` when given.
pub fn udp(ip: IpAddr, port: u16, device: Option<&str>) -> io::Result<UdpSocket> {
    let fd = bound(SocketAddr::new(ip, port), libc::SOCK_DGRAM, device)?;
    Ok(UdpSocket::from(fd))
}

/// A listening TCP socket on `ip:port`, pinned to `device` when given.
pub fn tcp(ip: IpAddr, port: u16, device: Option<&str>) -> io::Result<TcpListener> {
    let fd = bound(SocketAddr::new(ip, port), libc::SOCK_STREAM, device)?;
    // SAFETY: listen() on a descriptor we own.
    check(unsafe { libc::listen(fd.as_raw_fd(), 1024) })?;
    Ok(TcpListener::from(fd))
}

/// Wakes a thread blocked in recv()/accept() on `fd` (Linux returns from both after a
/// shutdown), so a listener can be stopped without polling.
pub fn wake(fd: RawFd) {
    // SAFETY: shutdown() on a descriptor still owned by the caller; errors are harmless.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

/// 16 random bits for message ids of forwarded queries (a predictable id invites cache
/// poisoning upstream).
pub fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: b is 2 writable bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 2, 0) };
    if n != 2 {
        // getrandom cannot fail for 2 bytes once the pool is ready; a time-based id still
        // works, only less unpredictably.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        return (t ^ (t >> 16)) as u16;
    }
    u16::from_ne_bytes(b)
}
