//! Links: bridges and veth pairs (`ip link` equivalents, over netlink).

use super::nl::Rtnl;
use crate::model::{Error, Result};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage as M;
use std::os::fd::{AsRawFd, BorrowedFd};

/// One row of `ip link`: what podnet needs to know about a link.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    pub master: Option<u32>,
    pub up: bool,
    /// `ip link set NAME alias TEXT`: podnet marks the links it makes with its store's identity.
    pub alias: Option<String>,
}

fn msg_for(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m
}

fn up(m: &mut LinkMessage) {
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
}

pub(super) fn parse(m: LinkMessage) -> Link {
    let mut link = Link {
        index: m.header.index,
        name: String::new(),
        kind: None,
        master: None,
        up: m.header.flags.contains(LinkFlags::Up),
        alias: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Controller(i) => link.master = Some(i),
            LinkAttribute::IfAlias(a) if !a.is_empty() => link.alias = Some(a),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// Look a link up by name (`ip link show NAME`); `None` when there is none.
pub fn get(rtnl: &mut Rtnl, name: &str) -> Result<Option<Link>> {
    let seq_msg = M::GetLink(msg_for(name));
    let mut found = None;
    // A GETLINK by name answers with one NEWLINK message then the ack; use dump-less request.
    match rtnl.get(seq_msg, |m| {
        if let M::NewLink(l) = m {
            found = Some(parse(l));
        }
    })? {
        Ok(()) => Ok(found),
        Err(e) if e.errno == libc::ENODEV => Ok(None),
        Err(e) => Err(Error::kernel(format!("look up link {name}"), e.errno)),
    }
}

/// All links of the namespace (`ip link show`). Without their counters
/// (RTEXT_FILTER_SKIP_STATS): no caller reads them, and they were about half of every
/// link message the kernel filled and we parsed (a host with 1,000 veths dumps 1,000).
pub fn list(rtnl: &mut Rtnl) -> Result<Vec<Link>> {
    let mut q = LinkMessage::default();
    q.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    rtnl.dump_raw(M::GetLink(q), parse_raw)
}

/// [`parse`] of an undecoded RTM_NEWLINK payload (`ifinfomsg`, then attributes), reading
/// only the few attributes a [`Link`] holds: decoding all of them (bridge port options,
/// per-family configuration, ...) cost more than the kernel's dump itself.
pub(super) fn parse_raw(kind: u16, p: &[u8]) -> Option<Link> {
    use super::nl::{attr_str, attr_u32, attrs, field_u32};
    const RTM_NEWLINK: u16 = 16;
    const IFINFOMSG: usize = 16;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MASTER: u16 = 10;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_IFALIAS: u16 = 20;
    const IFLA_INFO_KIND: u16 = 1;
    if kind != RTM_NEWLINK || p.len() < IFINFOMSG {
        return None;
    }
    let mut link = Link {
        index: field_u32(p, 4)?,
        name: String::new(),
        kind: None,
        master: None,
        up: field_u32(p, 8)? & libc::IFF_UP as u32 != 0,
        alias: None,
    };
    for (t, v) in attrs(&p[IFINFOMSG..]) {
        match t {
            IFLA_IFNAME => link.name = attr_str(v),
            IFLA_MASTER => link.master = attr_u32(v),
            IFLA_IFALIAS => link.alias = Some(attr_str(v)).filter(|a| !a.is_empty()),
            IFLA_LINKINFO => {
                link.kind = attrs(v)
                    .find(|(t, _)| *t == IFLA_INFO_KIND)
                    .map(|(_, k)| attr_str(k))
            }
            _ => {}
        }
    }
    Some(link)
}

/// A bridge [`ensure_bridge`] made or found.
#[derive(Debug, Clone)]
pub struct Ensured {
    pub link: Link,
    /// Made by this call: only then may undoing the operation delete it.
    pub created: bool,
}

/// Create a bridge named `name`, up, with the alias `alias` (`ip link add NAME mtu M up type
/// bridge; ip link set NAME alias ALIAS`). When a link of that name exists already, it is
/// returned untouched with `created: false`: whether it may be used is the caller's decision.
///
/// The kernel ignores IFLA_IFALIAS in a creating message, so a bridge created under its name
/// would be visible unmarked until a second message marks it, and a concurrent podnet of the
/// same store would take it for someone else's (seen: 1 in ~10 runs of 50 concurrent first
/// uses under load). So the bridge is created down under a temporary name, then renamed,
/// marked and brought up in one RTM_SETLINK (do_setlink applies the name, the alias and the
/// flags in that order): under its real name it only ever exists marked. Two messages, as
/// before.
pub fn ensure_bridge(rtnl: &mut Rtnl, name: &str, mtu: u32, alias: &str) -> Result<Ensured> {
    ensure_bridge_with(rtnl, name, mtu, alias, &|_| Ok(()))
}

/// [`ensure_bridge`], calling `before_up` with the new bridge's (temporary) name while it is
/// still down: per-device sysctls that must hold from the moment it is up (IPv6 DAD of its
/// link-local address starts then).
pub fn ensure_bridge_with(
    rtnl: &mut Rtnl,
    name: &str,
    mtu: u32,
    alias: &str,
    before_up: &dyn Fn(&str) -> Result<()>,
) -> Result<Ensured> {
    if let Some(link) = get(rtnl, name)? {
        return Ok(Ensured {
            link,
            created: false,
        });
    }
    let temp = temporary_name();
    let mut m = msg_for(&temp);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    rtnl.call(
        &format!("create bridge {name} (as {temp})"),
        M::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    // Addressed by index: IFLA_IFNAME in a SETLINK that has an index is the new name.
    let index = get(rtnl, &temp)?
        .ok_or_else(|| Error::failed(format!("bridge {temp} vanished after creation")))?
        .index;
    if let Err(e) = before_up(&temp) {
        let _ = delete(rtnl, &temp);
        return Err(e);
    }
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
    up(&mut m);
    let created = match rtnl.request(M::SetLink(m), 0)? {
        Ok(()) => true,
        // Someone made `name` meanwhile: theirs stands, ours goes.
        Err(e) if e.errno == libc::EEXIST => {
            delete(rtnl, &temp)?;
            false
        }
        Err(e) => {
            let _ = delete(rtnl, &temp);
            return Err(Error::kernel(format!("create bridge {name}"), e.errno));
        }
    };
    let link = get(rtnl, name)?
        .ok_or_else(|| Error::failed(format!("bridge {name} vanished after creation")))?;
    Ok(Ensured { link, created })
}

/// A name no other link has: `pnt` + this process's id + a per-process counter (15 bytes at
/// most). A crash between the two messages leaves a down, unmarked `pnt*` bridge.
fn temporary_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("pnt{:x}x{:x}", std::process::id(), n % 0x100)
}

/// `ip link set NAME alias TEXT`. Returns false when there is no such link (any more): a
/// link listed a moment ago may be removed by its owner before it is marked.
pub fn set_alias(rtnl: &mut Rtnl, name: &str, alias: &str) -> Result<bool> {
    let mut m = msg_for(name);
    m.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
    match rtnl.request(M::SetLink(m), 0)? {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENODEV => Ok(false),
        Err(e) => Err(Error::kernel(format!("set alias of {name}"), e.errno)),
    }
}

/// Create a veth pair in one message: `host` here, enslaved to `master`; the peer created
/// directly inside the namespace `peer_ns` under the name `peer`. Both start down: the caller
/// turns IPv6 link-local generation off (only possible while down) and brings them up. Equals
/// `ip link add HOST mtu M master BR type veth peer name PEER netns NS [address MAC]`.
pub fn create_veth(
    rtnl: &mut Rtnl,
    host: &str,
    master: Option<u32>,
    mtu: u32,
    peer: &str,
    peer_ns: BorrowedFd,
    peer_mac: Option<[u8; 6]>,
) -> Result<()> {
    let mut p = msg_for(peer);
    p.attributes.push(LinkAttribute::Mtu(mtu));
    if let Some(mac) = peer_mac {
        p.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    p.attributes
        .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
    let mut m = msg_for(host);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    if let Some(master) = master {
        m.attributes.push(LinkAttribute::Controller(master));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(netlink_packet_route::link::InfoData::Veth(InfoVeth::Peer(
            p,
        ))),
    ]));
    rtnl.call(
        &format!("create veth pair {host}/{peer}"),
        M::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `addrgenmode none`: no IPv6 link-local address, so no DAD, router solicitation or MLD
/// traffic from the link. On a bridge with 1,000 ports every such packet from a new port is
/// flooded to all the others (measured: `br_flood`/`veth_xmit` and IPv6 route churn were
/// the growing part of an attach at 1,000 containers). podnet's networks are IPv4.
/// The kernel refuses it in the creating message and applies it only to a link that is still
/// down (`ip link set dev NAME addrgenmode none`), so it is its own message before `up`.
///
/// `alias`, when given, is set in the same message (`ip link set NAME alias TEXT`): podnet
/// marks a veth's host end here, at no extra round trip, since the kernel ignores an alias in
/// the creating message. `group`, when given, too (`ip link set NAME group N`).
pub fn no_ipv6_link_local(
    rtnl: &mut Rtnl,
    name: &str,
    alias: Option<&str>,
    group: Option<u32>,
) -> Result<()> {
    use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode};
    let mut m = msg_for(name);
    if let Some(a) = alias {
        m.attributes.push(LinkAttribute::IfAlias(a.to_string()));
    }
    if let Some(g) = group {
        m.attributes.push(LinkAttribute::Group(g));
    }
    m.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )]));
    rtnl.call(&format!("addrgenmode none on {name}"), M::SetLink(m), 0)
}

/// `ip link set dev INDEX up`.
pub fn set_up(rtnl: &mut Rtnl, index: u32) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    up(&mut m);
    rtnl.call(&format!("bring up link #{index}"), M::SetLink(m), 0)
}

/// `ip link set dev INDEX address MAC`. On a bridge this also fixes the address: without
/// it the bridge takes the lowest of its ports' addresses, which changes when that port
/// leaves (and every container's neighbour entry for the gateway goes stale).
pub fn set_address(rtnl: &mut Rtnl, index: u32, mac: [u8; 6]) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    rtnl.call(
        &format!("set the address of link #{index}"),
        M::SetLink(m),
        0,
    )
}

/// `ip link set dev NAME up`, by name.
pub fn set_up_by_name(rtnl: &mut Rtnl, name: &str) -> Result<()> {
    let mut m = msg_for(name);
    up(&mut m);
    rtnl.call(&format!("bring up {name}"), M::SetLink(m), 0)
}

/// `bridge link set dev NAME state 0`: the bridge port stops passing frames either way (every
/// frame arriving on a disabled port is dropped). Cheaper than taking the link down, which
/// waits for an RCU grace period (qdisc deactivation). Idempotent: false when there is no such
/// link (or it is on no bridge any more).
pub fn disable_bridge_port(rtnl: &mut Rtnl, name: &str) -> Result<bool> {
    use netlink_packet_core::DefaultNla;
    use netlink_packet_route::link::LinkProtoInfoBridge;
    const IFLA_BRPORT_STATE: u16 = 1;
    const BR_STATE_DISABLED: u8 = 0;
    // RTM_SETLINK for AF_BRIDGE (rtnl_bridge_setlink) finds the port by index only.
    let Some(link) = get(rtnl, name)? else {
        return Ok(false);
    };
    if link.master.is_none() {
        return Ok(false);
    }
    let mut m = LinkMessage::default();
    m.header.index = link.index;
    m.header.interface_family = netlink_packet_route::AddressFamily::Bridge;
    m.attributes.push(LinkAttribute::ProtoInfoBridge(vec![
        LinkProtoInfoBridge::Other(DefaultNla::new(IFLA_BRPORT_STATE, vec![BR_STATE_DISABLED])),
    ]));
    match rtnl.request(M::SetLink(m), 0)? {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENODEV => Ok(false),
        // The port's device is down: the bridge already passes nothing through it.
        Err(e) if e.errno == libc::ENETDOWN => Ok(false),
        Err(e) => Err(Error::failed(format!(
            "disable bridge port {name}: {}",
            e.describe()
        ))),
    }
}

/// `ip link del NAME`. Idempotent: returns false when there was no such link.
pub fn delete(rtnl: &mut Rtnl, name: &str) -> Result<bool> {
    match rtnl.request(M::DelLink(msg_for(name)), 0)? {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENODEV => Ok(false),
        Err(e) => Err(Error::kernel(format!("delete link {name}"), e.errno)),
    }
}

/// `ip link set dev NAME type bridge_slave hairpin on` (`bridge link set dev NAME hairpin on`):
/// the bridge may send a frame back out the port it came in on.
pub fn set_hairpin(rtnl: &mut Rtnl, name: &str) -> Result<()> {
    use netlink_packet_core::DefaultNla;
    use netlink_packet_route::link::LinkProtoInfoBridge;
    const IFLA_BRPORT_MODE: u16 = 4;
    // RTM_SETLINK for AF_BRIDGE (rtnl_bridge_setlink) finds the port by index only.
    let index = get(rtnl, name)?
        .ok_or_else(|| Error::failed(format!("set hairpin on {name}: no such link")))?
        .index;
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.header.interface_family = netlink_packet_route::AddressFamily::Bridge;
    m.attributes.push(LinkAttribute::ProtoInfoBridge(vec![
        LinkProtoInfoBridge::Other(DefaultNla::new(IFLA_BRPORT_MODE, vec![1])),
    ]));
    rtnl.call(&format!("set hairpin on {name}"), M::SetLink(m), 0)
}

/// `ip link set dev NAME up type bridge_slave hairpin on`, in one message: an RTM_NEWLINK of
/// the existing link by name sets the bridge port's hairpin mode (port data, applied first)
/// and brings it up. [`set_up_by_name`] and [`set_hairpin`] took three round trips (a
/// GETLINK for the index AF_BRIDGE needs): ~0.15 ms of an attach.
pub fn set_up_hairpin(rtnl: &mut Rtnl, name: &str) -> Result<()> {
    use netlink_packet_route::link::{InfoBridgePort, InfoPortData, InfoPortKind};
    let mut m = msg_for(name);
    up(&mut m);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    rtnl.call(&format!("bring up {name} with hairpin"), M::NewLink(m), 0)
}

/// `ip link set dev INDEX master BRIDGE`: enslave a link to a bridge.
pub fn set_master(rtnl: &mut Rtnl, index: u32, bridge: u32) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::Controller(bridge));
    rtnl.call(
        &format!("enslave link #{index} to #{bridge}"),
        M::SetLink(m),
        0,
    )
}
