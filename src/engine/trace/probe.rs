//! The probe: a real TCP SYN (a non-blocking connect) or UDP datagram. The socket is made
//! in the sender's namespace (it stays bound to it), bound first so the trace can be armed
//! on its source port before anything is sent.

use crate::model::{Error, Proto, Result};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Probe {
    fd: OwnedFd,
    proto: Proto,
    pub sport: u16,
}

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; zeroed is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as u16;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from(ip).to_be();
    sa
}

fn os_err(what: &str) -> Error {
    let e = io::Error::last_os_error();
    Error::kernel(what, e.raw_os_error().unwrap_or(libc::EIO))
}

impl Probe {
    /// A socket in the calling thread's namespace, bound to an ephemeral port.
    pub fn open(proto: Proto) -> Result<Probe> {
        let ty = match proto {
            Proto::Tcp => libc::SOCK_STREAM,
            Proto::Udp => libc::SOCK_DGRAM,
            Proto::Sctp => return Err(Error::input("trace: the probe is tcp or udp")),
        };
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_INET,
                ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(os_err("probe socket"));
        }
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sa = sockaddr(Ipv4Addr::UNSPECIFIED, 0);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: bind/getsockname with a sockaddr_in we own and its size.
        let sport = unsafe {
            if libc::bind(raw, (&sa as *const libc::sockaddr_in).cast(), len) != 0 {
                return Err(os_err("bind the probe"));
            }
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut l = len;
            if libc::getsockname(raw, (&mut got as *mut libc::sockaddr_in).cast(), &mut l) != 0 {
                return Err(os_err("probe's port"));
            }
            u16::from_be(got.sin_port)
        };
        Ok(Probe { fd, proto, sport })
    }

    /// Send it: the SYN of a connect (not waited for), or one datagram. An error the kernel
    /// gives at once (e.g. EPERM from a reject in the output hook, ENETUNREACH) is the trace's
    /// to explain, not a failure of the command: it is returned as the errno.
    pub fn fire(&self, daddr: Ipv4Addr, dport: u16) -> Option<i32> {
        let sa = sockaddr(daddr, dport);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let fd = self.fd.as_raw_fd();
        // SAFETY: connect/sendto with a sockaddr_in we own, a static payload and their sizes.
        let r = unsafe {
            match self.proto {
                Proto::Tcp => libc::connect(fd, (&sa as *const libc::sockaddr_in).cast(), len),
                _ => {
                    let msg = b"podnet trace\n";
                    libc::sendto(
                        fd,
                        msg.as_ptr().cast(),
                        msg.len(),
                        0,
                        (&sa as *const libc::sockaddr_in).cast(),
                        len,
                    ) as i32
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
