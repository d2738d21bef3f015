//! A NETLINK_NETFILTER socket joined to one multicast group, in the calling thread's network
//! namespace (the socket stays bound to it wherever it is read): what [`super::watch`]
//! (nftables changes, `NFNLGRP_NFTABLES`) and [`super::trace`] (trace events,
//! `NFNLGRP_NFTRACE`) read from. The one place with the socket's unsafe calls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A subscription: notifications of one group, read datagram by datagram.
pub struct Subscription {
    fd: OwnedFd,
}

/// How a [`Subscription`] is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Reads never block ([`Subscription::recv`] gives `EAGAIN`; callers poll).
    pub nonblocking: bool,
    /// `SO_RCVBUFFORCE` (root) to this many bytes, so a burst is not lost to `ENOBUFS`;
    /// best effort (the default buffer when refused).
    pub rcvbuf: Option<usize>,
}

/// Open a socket, bind it (kernel-chosen port id) and join `group`.
pub fn subscribe(group: libc::c_int, o: Options) -> io::Result<Subscription> {
    let flags = if o.nonblocking {
        libc::SOCK_NONBLOCK
    } else {
        0
    };
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | flags,
            libc::NETLINK_NETFILTER,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl zeroed (port id chosen by the kernel), then bind and setsockopt
    // with pointers to locals that outlive the calls, and their sizes.
    unsafe {
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as u16;
        if libc::bind(
            raw,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::setsockopt(
            raw,
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            (&group as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if let Some(bytes) = o.rcvbuf {
            let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            );
        }
    }
    Ok(Subscription { fd })
}

impl Subscription {
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// One datagram into `buf` (its length), retrying `EINTR`. Other errors are the
    /// caller's: `EAGAIN` (non-blocking, nothing queued), `ENOBUFS` (notifications lost).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: recv into a buffer the caller lends us, with its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }
}
