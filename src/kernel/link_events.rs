//! Link changes as they happen: an rtnetlink socket subscribed to the link group
//! (RTNLGRP_LINK), asked without blocking. What `podnet ui` watches for links made or
//! changed by hand instead of dumping every link each second (that dump cost ~3 % of a core
//! at 1,000 veths; a look at an empty socket is one syscall).
//!
//! The group also carries what the picture does not show (carrier and operational state,
//! bridge port notifications): right after 1,000 containers were made the kernel sent ~70
//! such events a second for many seconds, and redrawing on each kept the ui at 20–50 % of
//! a core. So the watch keeps what the graph shows of each link (name, master, up, kind,
//! alias) and says "changed" only when that changes (docs/decisions/2026-12-02-graph-speed.md).

use super::link::{self, Link};
use super::nl::{self, Rtnl};
use crate::model::{Error, Result};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::collections::HashMap;

/// `RTNLGRP_LINK`: new, changed and deleted links.
const RTNLGRP_LINK: u32 = 1;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;

/// What the graph shows of a link.
type Shown = (String, Option<u32>, bool, Option<String>, Option<String>);

fn shown(l: Link) -> (u32, Shown) {
    (l.index, (l.name, l.master, l.up, l.kind, l.alias))
}

pub struct LinkEvents {
    sock: Socket,
    buf: Vec<u8>,
    links: HashMap<u32, Shown>,
}

impl LinkEvents {
    /// Subscribe in `rtnl`'s namespace (the calling thread's), then read the links once
    /// (subscribed first, so no change falls between).
    pub fn open(rtnl: &mut Rtnl) -> Result<LinkEvents> {
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
            links: link::list(rtnl)?.into_iter().map(shown).collect(),
        })
    }

    /// Whether a link appeared, went or changed what the graph shows of it since the last
    /// call; drains what is queued. When the queue overflowed (ENOBUFS: events were lost)
    /// the links are read again through `rtnl` and compared.
    pub fn changed(&mut self, rtnl: &mut Rtnl) -> bool {
        let mut changed = false;
        loop {
            match self.sock.recv(&mut &mut self.buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => {
                    let n = n.min(self.buf.len());
                    for (kind, p) in nl::messages(&self.buf[..n]) {
                        changed |= apply(&mut self.links, kind, p);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return changed,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    let Ok(now) = link::list(rtnl) else {
                        return true;
                    };
                    let now: HashMap<u32, Shown> = now.into_iter().map(shown).collect();
                    changed |= now != self.links;
                    self.links = now;
                }
                Err(_) => return changed,
            }
        }
    }
}

/// One event applied to `links`: whether it changed what is shown. Only the links' own
/// messages (AF_UNSPEC) count: a bridge's AF_BRIDGE RTM_DELLINK means a port left it, not
/// that the link went, and its port messages repeat the link's.
fn apply(links: &mut HashMap<u32, Shown>, kind: u16, p: &[u8]) -> bool {
    if p.first() != Some(&(libc::AF_UNSPEC as u8)) {
        return false;
    }
    match kind {
        RTM_NEWLINK => match link::parse_raw(kind, p).map(shown) {
            Some((index, now)) => links.insert(index, now.clone()) != Some(now),
            None => false,
        },
        RTM_DELLINK => nl::field_u32(p, 4).is_some_and(|index| links.remove(&index).is_some()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::thread_netns::in_netns;

    #[test]
    fn only_what_the_graph_shows_counts_as_a_change() {
        in_netns(|| {
            let mut rtnl = Rtnl::open().expect("rtnetlink");
            let mut ev = LinkEvents::open(&mut rtnl).expect("subscribe");
            assert!(!ev.changed(&mut rtnl), "nothing happened yet");
            let made = link::ensure_bridge(&mut rtnl, "pn-evt", 1500, "x").expect("bridge");
            assert!(ev.changed(&mut rtnl), "a new link");
            assert!(!ev.changed(&mut rtnl), "drained");
            // A new MAC is an event of the group but nothing the graph draws.
            link::set_address(&mut rtnl, made.link.index, [2, 0, 0, 0, 0, 9]).expect("mac");
            assert!(!ev.changed(&mut rtnl), "a MAC is not shown");
            link::set_alias(&mut rtnl, "pn-evt", "podnet:other").expect("alias");
            assert!(ev.changed(&mut rtnl), "an alias (ownership) is shown");
            link::delete(&mut rtnl, "pn-evt").expect("delete");
            assert!(ev.changed(&mut rtnl), "a link gone");
        });
    }
}
