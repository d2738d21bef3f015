//! Is a runtime attachment still as attach made it? (CNI CHECK.) Read-only: it reports what
//! is wrong and repairs nothing (`podnet gc` repairs).

use super::{find, Attachment, Key};
use crate::engine::Ctx;
use crate::kernel::{addr, link, netns};
use crate::model::{EndpointState, Error, Result};
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The attachment of `key` on `network`, checked: recorded and ready, in the namespace at
/// `netns`, its host veth on the network's bridge and up, its interface inside up with its
/// addresses (IPv4, and IPv6 on a dual-stack network). `expect_ip`/`expect_ip6`, when given
/// (the addresses the runtime was told), must be its addresses. Not found when there is no
/// such attachment; failed, saying what differs, otherwise.
pub fn check(
    ctx: &mut Ctx,
    network: &str,
    key: &Key,
    netns_path: &Path,
    expect_ip: Option<Ipv4Addr>,
    expect_ip6: Option<Ipv6Addr>,
) -> Result<Attachment> {
    let what = format!(
        "container {} {} on network '{network}'",
        key.container_id, key.ifname
    );
    let a = find(ctx, network, key)?.ok_or_else(|| {
        Error::not_found(
            "attachment",
            format!("{}/{}", key.container_id, key.ifname),
            format!("{what} is not attached"),
        )
    })?;
    let ep = &a.endpoint;
    let bad = |why: String| Error::failed(format!("{what}: {why}"));
    if ep.state != EndpointState::Ready {
        return Err(bad(format!("it is still {}", ep.state.as_str())));
    }
    let ip = ep.ip.ok_or_else(|| bad("it has no address".into()))?;
    if let Some(want) = expect_ip.filter(|w| *w != ip) {
        return Err(bad(format!("its address is {ip}, the runtime says {want}")));
    }
    if let Some(want) = expect_ip6.filter(|w| Some(*w) != ep.ip6) {
        return Err(bad(match ep.ip6 {
            Some(has) => format!("its IPv6 address is {has}, the runtime says {want}"),
            None => format!("it has no IPv6 address, the runtime says {want}"),
        }));
    }
    let here = netns::identity(netns_path);
    let recorded = ctx.store.netns_identity(ep.id)?;
    if here.is_none() || here != recorded {
        return Err(bad(format!(
            "it is attached to another namespace than {}",
            netns_path.display()
        )));
    }
    // A macvlan endpoint has no bridge and no veth: its interface is checked below.
    if a.network.is_bridge() {
        let veth = ep.host_veth.as_deref().unwrap_or_default();
        let bridge = link::get(ctx.host()?, &a.network.bridge)?
            .ok_or_else(|| bad(format!("bridge {} is gone", a.network.bridge)))?;
        match link::get(ctx.host()?, veth)? {
            None => return Err(bad(format!("its veth {veth} is gone"))),
            Some(l) if l.master != Some(bridge.index) => {
                return Err(bad(format!(
                    "its veth {veth} is not on bridge {}",
                    a.network.bridge
                )))
            }
            Some(l) if !l.up => return Err(bad(format!("its veth {veth} is down"))),
            Some(_) => {}
        }
    }
    let ns = File::open(netns_path)?;
    let mut inside = netns::rtnl_in(&ns)?;
    let ifname = ep.ifname();
    let iface = link::get(&mut inside, ifname)?
        .ok_or_else(|| bad(format!("{ifname} is gone from its namespace")))?;
    if !iface.up {
        return Err(bad(format!("{ifname} is down")));
    }
    let prefix = a.network.subnet.prefix_len();
    if !addr::list(&mut inside)?
        .iter()
        .any(|(i, a, p)| *i == iface.index && *a == ip && *p == prefix)
    {
        return Err(bad(format!("{ifname} lost its address {ip}/{prefix}")));
    }
    if let (Some(ip6), Some(s6)) = (ep.ip6, a.network.subnet6) {
        let prefix = s6.prefix_len();
        if !addr::list6(&mut inside)?
            .iter()
            .any(|(i, a, p)| *i == iface.index && *a == ip6 && *p == prefix)
        {
            return Err(bad(format!("{ifname} lost its address {ip6}/{prefix}")));
        }
    }
    Ok(a)
}
