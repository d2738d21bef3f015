//! macvlan networks (issue 13): no bridge, no NAT, no netfilter. A network is its record (the
//! parent, mode, subnet, gateway and range) and, with host access, a macvlan shim on the host
//! (`pnm<id>`, marked like every podnet link) with a route to the range. A container's
//! interface is a macvlan child of the parent made directly inside its namespace.

use crate::engine::{owner, Ctx};
use crate::kernel::{addr, link, macvlan, route};
use crate::model::field::{
    BRIDGE, GATEWAY, HOST_ACCESS, INTERNAL, IP, IPV6, IP_RANGE, MTU, PARENT, PUBLISH, SUBNET,
};
use crate::model::macvlan::overlaps;
use crate::model::{Error, Macvlan, MacvlanMode, Network, Result};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// What a request for a macvlan network adds to a bridge network's (`--driver macvlan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacvlanRequest {
    pub parent: String,
    pub mode: MacvlanMode,
    /// None: the whole subnet.
    pub ip_range: Option<Ipv4Net>,
    pub host_access: bool,
}

/// The parent as found before anything is recorded: its index and its own addresses in the
/// subnet (the host's address on the LAN; never handed out, the shim route's source).
pub struct Parent {
    pub index: u32,
    pub addrs: Vec<Ipv4Addr>,
}

/// The shim's name for network id `id` (kept in the record's `bridge` column).
pub fn shim_name(id: i64) -> String {
    format!("pnm{id}")
}

/// Everything about a macvlan request that needs no transaction: the options that do not
/// apply, the parent (there, not podnet's), the subnet on the parent's LAN, the range and
/// gateway inside the subnet. Bad input names its flag; nothing is made.
pub fn check(
    ctx: &mut Ctx,
    spec: &super::NetworkRequest,
    m: &MacvlanRequest,
    bridges: &[String],
) -> Result<(Macvlan, Parent)> {
    if spec.bridge.is_some() {
        return Err(Error::input(format!(
            "{BRIDGE} does not apply to a macvlan network (it has no bridge): drop it"
        )));
    }
    if spec.internal {
        return Err(Error::input(format!(
            "{INTERNAL} does not apply to a macvlan network (its containers are on the LAN): drop it or use a bridge network"
        )));
    }
    if spec.mtu.is_some() {
        return Err(Error::input(format!(
            "{MTU} does not apply to a macvlan network: its interfaces take the parent's MTU; drop it"
        )));
    }
    if spec.ipv6 == Some(true) || spec.subnet6.is_some() {
        return Err(Error::input(format!(
            "{IPV6} is not supported on macvlan networks yet: drop it"
        )));
    }
    let Some(subnet) = spec.subnet else {
        return Err(Error::input(format!(
            "a macvlan network needs {SUBNET}: give the parent's LAN, e.g. {SUBNET} 192.168.1.0/24 {GATEWAY} 192.168.1.1"
        )));
    };
    if subnet.network() != subnet.addr() || subnet.prefix_len() > 30 {
        return Err(Error::input(format!(
            "{SUBNET} {subnet} must be a LAN's network address with a prefix of /30 or shorter (e.g. {})",
            subnet.trunc()
        )));
    }
    let range = m.ip_range.unwrap_or(subnet);
    if range.prefix_len() > 30 || !subnet.contains(&range) {
        return Err(Error::input(format!(
            "{IP_RANGE} {range} must lie inside {SUBNET} {subnet} with a prefix of /30 or shorter"
        )));
    }
    if m.host_access && m.mode != MacvlanMode::Bridge {
        return Err(Error::input(format!(
            "{HOST_ACCESS} needs macvlan mode bridge: only then does the host's shim reach its sibling macvlans"
        )));
    }
    let p = &m.parent;
    crate::model::validate_ifname(PARENT, p)?;
    if owner::names::reserved(p) || bridges.iter().any(|b| b == p) {
        return Err(Error::input(format!(
            "{PARENT} {p} is a podnet bridge: give the host interface on the LAN (e.g. eth0)"
        )));
    }
    let Some(l) = link::get(ctx.host()?, p)? else {
        return Err(Error::input(format!(
            "{PARENT} {p}: no such interface on this host: give the interface on the LAN (see `ip link`)"
        )));
    };
    if l.kind.as_deref() == Some("macvlan") {
        return Err(Error::input(format!(
            "{PARENT} {p} is itself a macvlan interface: give the host interface on the LAN"
        )));
    }
    let addrs: Vec<Ipv4Addr> = addr::list(ctx.host()?)?
        .into_iter()
        .filter(|&(i, ip, _)| i == l.index && subnet.contains(&ip))
        .map(|(_, ip, _)| ip)
        .collect();
    let routed = route::list(ctx.host()?)?
        .iter()
        .any(|r| r.oif == Some(l.index) && r.dst.prefix_len() > 0 && overlaps(&r.dst, &subnet));
    if addrs.is_empty() && !routed {
        return Err(Error::input(format!(
            "{SUBNET} {subnet} is not on the LAN of {PARENT} {p} (it has no address or route there): give the parent's own LAN subnet"
        )));
    }
    if m.host_access && addrs.is_empty() {
        return Err(Error::input(format!(
            "{HOST_ACCESS} needs an address of the host on {PARENT} {p} inside {subnet} (the shim's route answers from it)"
        )));
    }
    if let Some(g) = spec.gateway {
        crate::ipam::check_requested(GATEWAY, &subnet, g)?;
    }
    Ok((
        Macvlan {
            parent: p.clone(),
            mode: m.mode,
            range,
            host_access: m.host_access,
        },
        Parent {
            index: l.index,
            addrs,
        },
    ))
}

/// Inside the create transaction: the range shares no address with another macvlan network's
/// range, the subnet none with a bridge network's subnet.
pub fn check_others(others: &[Network], subnet: &Ipv4Net, m: &Macvlan) -> Result<()> {
    for o in others {
        match &o.macvlan {
            Some(om) if overlaps(&om.range, &m.range) => {
                return Err(Error::input(format!(
                    "{IP_RANGE} {} overlaps the range {} of macvlan network '{}': two networks would hand out the same addresses; choose a range that does not",
                    m.range, om.range, o.name
                )))
            }
            None if overlaps(&o.subnet, subnet) => {
                return Err(Error::input(format!(
                    "{SUBNET} {subnet} overlaps bridge network '{}' ({}): choose the parent's LAN subnet",
                    o.name, o.subnet
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The kernel side of a network record (idempotent): with host access, the shim up on the
/// parent, marked, with its route to the range from the host's LAN address.
pub fn realize(ctx: &mut Ctx, net: &Network, created: &mut bool) -> Result<()> {
    let Some(m) = &net.macvlan else {
        return Ok(());
    };
    if !m.host_access {
        return Ok(());
    }
    let me = owner::Identity::of(ctx);
    let (parent, src) = parent_facts(ctx, net, m)?;
    let rtnl = ctx.host()?;
    let shim = &net.bridge;
    let index = match link::get(rtnl, shim)? {
        Some(l) => {
            if me.owner(l.alias.as_deref()) != owner::Owner::Mine {
                return Err(Error::failed(format!(
                    "interface {shim} (the host shim of network '{}') exists and this podnet state did not make it: remove it or choose another network",
                    net.name
                )));
            }
            l.index
        }
        None => {
            macvlan::create(
                rtnl,
                &macvlan::MacvlanSpec {
                    name: shim,
                    parent,
                    mode: MacvlanMode::Bridge,
                    mtu: None,
                    mac: None,
                    netns: None,
                },
            )?;
            *created = true;
            // Marked (the kernel ignores an alias in a creating message) before it is up:
            // gc removes it if no record names it.
            link::no_ipv6_link_local(rtnl, shim, Some(&me.link_alias()), None)?;
            link::get(rtnl, shim)?
                .ok_or_else(|| Error::failed(format!("shim {shim} vanished after creation")))?
                .index
        }
    };
    link::set_up(rtnl, index)?;
    route::replace_dev_src(rtnl, m.range, index, src)
}

/// The parent's index and the host's address on it inside the subnet.
fn parent_facts(ctx: &mut Ctx, net: &Network, m: &Macvlan) -> Result<(u32, Ipv4Addr)> {
    let rtnl = ctx.host()?;
    let l = link::get(rtnl, &m.parent)?.ok_or_else(|| {
        Error::failed(format!(
            "the parent {} of macvlan network '{}' is gone",
            m.parent, net.name
        ))
    })?;
    let src = addr::list(rtnl)?
        .into_iter()
        .find(|&(i, ip, _)| i == l.index && net.subnet.contains(&ip))
        .map(|(_, ip, _)| ip)
        .ok_or_else(|| {
            Error::failed(format!(
                "the parent {} of macvlan network '{}' has no address in {} any more: the host shim needs one",
                m.parent, net.name, net.subnet
            ))
        })?;
    Ok((l.index, src))
}

/// Remove the shim (its route goes with it) if this store made it.
pub fn remove_shim(ctx: &mut Ctx, net: &Network) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let rtnl = ctx.host()?;
    if let Some(l) = link::get(rtnl, &net.bridge)? {
        if me.owner(l.alias.as_deref()) == owner::Owner::Mine {
            link::delete(rtnl, &net.bridge)?;
        }
    }
    Ok(())
}

/// The host's own addresses on a macvlan network's parent (never handed to a container).
pub fn host_addrs(ctx: &mut Ctx, net: &Network) -> Result<Vec<Ipv4Addr>> {
    let Some(m) = &net.macvlan else {
        return Ok(Vec::new());
    };
    let rtnl = ctx.host()?;
    let Some(l) = link::get(rtnl, &m.parent)? else {
        return Ok(Vec::new());
    };
    Ok(addr::list(rtnl)?
        .into_iter()
        .filter(|&(i, ip, _)| i == l.index && net.subnet.contains(&ip))
        .map(|(_, ip, _)| ip)
        .collect())
}

/// An address for a container on a macvlan network: the requested one if it is in the range
/// and free, else the next free one of the range after the hint. Never the gateway, never the
/// host's own address, never outside the range.
pub fn allocate(
    tx: &dyn crate::store::Writes,
    net: &Network,
    m: &Macvlan,
    requested: Option<Ipv4Addr>,
    host: &[Ipv4Addr],
) -> Result<Ipv4Addr> {
    let taken = |ip: Ipv4Addr| -> Result<bool> {
        Ok(host.contains(&ip) || tx.lease_taken(net.id, ip.into())?)
    };
    if let Some(ip) = requested {
        crate::ipam::check_requested(IP, &net.subnet, ip)?;
        if !m.range.contains(&ip) {
            return Err(Error::input(format!(
                "{IP} {ip} is outside the range {} of network '{}': pick an address inside it or omit {IP}",
                m.range, net.name
            )));
        }
        if ip == net.gateway || host.contains(&ip) {
            return Err(Error::input(format!(
                "{IP} {ip} is the {} on network '{}': pick another address",
                if ip == net.gateway {
                    "gateway"
                } else {
                    "host's own address"
                },
                net.name
            )));
        }
        if taken(ip)? {
            return Err(Error::input(format!(
                "{IP} {ip} is already taken on network '{}': pick another address or omit {IP}",
                net.name
            )));
        }
        return Ok(ip);
    }
    let hint = tx.next_ip(net.id)?.and_then(|h| match h {
        std::net::IpAddr::V4(h) => Some(h),
        _ => None,
    });
    let ip = crate::ipam::next_free(&m.range, net.gateway, hint, |c| {
        Ok(!crate::ipam::is_host(&net.subnet, c) || taken(c)?)
    })?;
    tx.set_next_ip(net.id, Ipv4Addr::from(u32::from(ip).wrapping_add(1)).into())?;
    Ok(ip)
}

/// `-p` on a macvlan network: refused, the container is on the LAN itself.
pub fn refuse_ports(net: &Network, ip: Option<Ipv4Addr>) -> Error {
    let at = ip.map(|ip| format!(" at {ip}")).unwrap_or_default();
    Error::input(format!(
        "{PUBLISH} does not apply on macvlan network '{}': the container is reachable{at} at its own address on the LAN; drop {PUBLISH}",
        net.name
    ))
}

/// How long a child's MAC may stay held by a removed container's child: the kernel destroys a
/// namespace (and the macvlan in it) asynchronously after its last reference goes, so `rm`
/// then `run --ip` of the same address (same MAC) can find it still busy for a moment.
const MAC_RELEASE: std::time::Duration = std::time::Duration::from_secs(3);

/// Brings up a container's macvlan child; while the parent says its MAC is in use
/// (EADDRINUSE), waits for the previous holder's teardown, then says what holds it.
pub fn bring_up_child(inside: &mut crate::kernel::Rtnl, index: u32, net: &Network) -> Result<()> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match link::set_up(inside, index) {
            Err(Error::Kernel { errno, .. })
                if errno == libc::EADDRINUSE && start.elapsed() < MAC_RELEASE =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Err(Error::Kernel { errno, .. }) if errno == libc::EADDRINUSE => {
                let parent = net.macvlan.as_ref().map_or("?", |m| m.parent.as_str());
                return Err(Error::failed(format!(
                    "the container's MAC address is in use by another interface on {parent} \
                     (another macvlan with the same address, or a MAC set by hand): \
                     remove it or run the container with another --ip"
                )));
            }
            r => return r,
        }
    }
}

/// A container's interface on a macvlan network: a child of the parent (looked up in the
/// host's namespace) created directly inside `ns` as the endpoint's interface, with the MAC
/// recorded for it; down (its address and routes follow, as on a bridge network). It inherits
/// the parent's MTU (a macvlan cannot exceed it).
pub fn make_child(
    ctx: &mut Ctx,
    net: &Network,
    ns: &std::fs::File,
    ep: &crate::model::Endpoint,
) -> Result<()> {
    use std::os::fd::AsFd;
    let Some(m) = &net.macvlan else {
        return Ok(());
    };
    let rtnl = ctx.host()?;
    let parent = link::get(rtnl, &m.parent)?.ok_or_else(|| {
        Error::failed(format!(
            "the parent {} of macvlan network '{}' is gone: re-create the network on an existing interface",
            m.parent, net.name
        ))
    })?;
    let ifname = ep.ifname();
    macvlan::create(
        rtnl,
        &macvlan::MacvlanSpec {
            name: ifname,
            parent: parent.index,
            mode: m.mode,
            mtu: None,
            mac: ep.mac.map(|m| m.0),
            netns: Some(ns.as_fd()),
        },
    )
    .map_err(|e| match e {
        Error::Kernel { errno, .. } if errno == libc::EEXIST => Error::field(
            "ifname",
            format!("interface {ifname} already exists in the container's namespace: give another interface name"),
        ),
        Error::Kernel { errno, .. } if errno == libc::EBUSY && m.mode == MacvlanMode::Passthru => {
            Error::input(format!(
                "network '{}' is in passthru mode and its parent {} already carries a container: one container per parent in that mode",
                net.name, m.parent
            ))
        }
        e => e,
    })
}
