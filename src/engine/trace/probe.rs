//! The probe: a real TCP SYN (a non-blocking connect) or UDP datagram. The socket is made
//! in the sender's namespace (it stays bound to it), bound first so the trace can be armed
//! on its source port before anything is sent.

use crate::model::{Error, Proto, Result};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Probe {
    fd: OwnedFd,
    proto: Proto,
    pub sport: u16,
}

/// A `sockaddr_in` or `sockaddr_in6` for `ip:port`, in a storage big enough for both, with
/// its length.
fn sockaddr(ip: IpAddr, port: u16) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match ip {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sa = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sa.sin_family = libc::AF_INET as u16;
            sa.sin_port = port.to_be();
            sa.sin_addr.s_addr = u32::from(a).to_be();
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sa = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sa.sin6_family = libc::AF_INET6 as u16;
            sa.sin6_port = port.to_be();
            sa.sin6_addr.s6_addr = a.octets();
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

fn os_err(what: &str) -> Error {
    let e = io::Error::last_os_error();
    Error::kernel(what, e.raw_os_error().unwrap_or(libc::EIO))
}

impl Probe {
    /// A socket (IPv6 with `v6`) in the calling thread's namespace, bound to an ephemeral
    /// port.
    pub fn open(proto: Proto, v6: bool) -> Result<Probe> {
        let ty = match proto {
            Proto::Tcp => libc::SOCK_STREAM,
            Proto::Udp => libc::SOCK_DGRAM,
            Proto::Sctp => return Err(Error::input("trace: the probe is tcp or udp")),
        };
        let (domain, any) = match v6 {
            false => (libc::AF_INET, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            true => (libc::AF_INET6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        };
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_err("probe socket"));
        }
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (sa, len) = sockaddr(any, 0);
        // SAFETY: bind/getsockname with a sockaddr_storage we own and the sizes of what it
        // holds (getsockname writes at most the storage's size).
        let sport = unsafe {
            if libc::bind(raw, (&sa as *const libc::sockaddr_storage).cast(), len) != 0 {
                return Err(os_err("bind the probe"));
            }
            let mut got: libc::sockaddr_storage = std::mem::zeroed();
            let mut l = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(
                raw,
                (&mut got as *mut libc::sockaddr_storage).cast(),
                &mut l,
            ) != 0
            {
                return Err(os_err("probe's port"));
            }
            // sin_port and sin6_port are at the same offset, after the family.
            u16::from_be(
                (*(&got as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()).sin_port,
            )
        };
        Ok(Probe { fd, proto, sport })
    }

    /// Send it: the SYN of a connect (not waited for), or one datagram. An error the kernel
    /// gives at once (e.g. EPERM from a reject in the output hook, ENETUNREACH) is the trace's
    /// to explain, not a failure of the command: it is returned as the errno.
    pub fn fire(&self, daddr: IpAddr, dport: u16) -> Option<i32> {
        let (sa, len) = sockaddr(daddr, dport);
        let to = (&sa as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
        let fd = self.fd.as_raw_fd();
        // SAFETY: connect/sendto with a sockaddr we own, a static payload and their sizes.
        let r = unsafe {
            match self.proto {
                Proto::Tcp => libc::connect(fd, to, len),
                _ => {
                    let msg = b"podnet trace\n";
                    libc::sendto(fd, msg.as_ptr().cast(), msg.len(), 0, to, len) as i32
                }
            }
        };
        if r < 0 {
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if e != libc::EINPROGRESS {
                return Some(e);
            }
        }
        None
    }
}
