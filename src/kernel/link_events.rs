//! Link changes as they happen: an rtnetlink socket subscribed to the link group
//! (RTNLGRP_LINK), asked without blocking. What `podnet ui` watches for links made or
//! changed by hand instead of dumping every link each second: the dump cost ~3 % of a core
//! at 1,000 veths, a look at an empty socket costs one syscall
//! (docs/decisions/2026-12-02-graph-speed.md).

use crate::model::{Error, Result};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `RTNLGRP_LINK`: new, changed and deleted links.
const RTNLGRP_LINK: u32 = 1;

pub struct LinkEvents {
    sock: Socket,
    buf: Vec<u8>,
}

impl LinkEvents {
    /// Subscribe in the calling thread's network namespace.
    pub fn open() -> Result<LinkEvents> {
        let fail = |what: &str, e: std::io::Error| Error::failed(format!("{what}: {e}"));
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| fail("open rtnetlink socket", e))?;
        sock.bind(&SocketAddr::new(0, 0))
            .map_err(|e| fail("bind rtnetlink socket", e))?;
        sock.add_membership(RTNLGRP_LINK)
            .map_err(|e| fail("join the rtnetlink link group", e))?;
        sock.set_non_blocking(true)
            .map_err(|e| fail("rtnetlink socket non-blocking", e))?;
        Ok(LinkEvents {
            sock,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Whether any link changed since the last call; drains what is queued. A queue that
    /// overflowed (ENOBUFS: events were lost) counts as a change.
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        loop {
            match self.sock.recv(&mut &mut self.buf[..], libc::MSG_DONTWAIT) {
                Ok(_) => changed = true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return changed,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => return true,
                Err(_) => return changed,
            }
        }
    }
}
