//! The VXLAN device of a cluster node (`ip link add … type vxlan`, over netlink), flannel's
//! shape: one device per node, unicast only (no group, no multicast), learning off, every
//! remote VTEP installed as a static FDB entry ([`super::fdb`]).

use super::nl::Rtnl;
use crate::model::{Error, Result};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage as M;
use std::net::Ipv4Addr;

/// IANA's VXLAN port (RFC 7348); Linux's own default (8472) predates it.
pub const VXLAN_PORT: u16 = 4789;
/// Bytes a VXLAN packet adds over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner
/// Ethernet (14). The device's MTU is the underlay's minus this, so no packet is fragmented.
pub const VXLAN_OVERHEAD: u32 = 50;

/// What the node's VXLAN device must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanSpec {
    pub name: String,
    /// The VXLAN network identifier, the same on every node of the cluster.
    pub vni: u32,
    /// The node's underlay address: the outer source of its VXLAN packets.
    pub local: Ipv4Addr,
    /// The underlay device (`dev`): packets leave through it whatever the routing says.
    pub underlay_index: u32,
    /// UDP destination port ([`VXLAN_PORT`]).
    pub port: u16,
    pub mtu: u32,
    /// The device's MAC (what the node publishes as its VTEP MAC); `None`: the kernel's pick.
    pub mac: Option<[u8; 6]>,
}

/// A VXLAN device as the kernel reports it (`ip -d link show NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanLink {
    pub index: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub up: bool,
    /// `ip link set NAME alias TEXT`: whose device it is.
    pub alias: Option<String>,
    /// False: a link of this name exists but is no VXLAN device.
    pub is_vxlan: bool,
    pub vni: Option<u32>,
    pub local: Option<Ipv4Addr>,
    pub underlay_index: Option<u32>,
    pub port: Option<u16>,
    pub learning: Option<bool>,
}

impl VxlanLink {
    /// Whether the device is the one `spec` describes in everything that cannot be changed
    /// in place (the kernel refuses to change a VXLAN device's VNI, local address or port:
    /// it must be re-created). The MTU is changeable and not compared here.
    pub fn matches(&self, spec: &VxlanSpec) -> bool {
        self.is_vxlan
            && self.vni == Some(spec.vni)
            && self.local == Some(spec.local)
            && self.underlay_index == Some(spec.underlay_index)
            && self.port == Some(spec.port)
            && self.learning == Some(false)
    }
}

/// A link's basic facts, of any kind (the underlay device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
}

fn query(rtnl: &mut Rtnl, m: LinkMessage, what: &str) -> Result<Option<LinkMessage>> {
    let mut found = None;
    match rtnl.get(M::GetLink(m), |r| {
        if let M::NewLink(l) = r {
            found = Some(l);
        }
    })? {
        Ok(()) => Ok(found),
        Err(e) if e.errno == libc::ENODEV => Ok(None),
        Err(e) => Err(Error::kernel(format!("look up link {what}"), e.errno)),
    }
}

fn by_name(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m
}

fn facts(m: &LinkMessage) -> LinkFacts {
    let mut f = LinkFacts {
        index: m.header.index,
        name: String::new(),
        mtu: 0,
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => f.name = n.clone(),
            LinkAttribute::Mtu(v) => f.mtu = *v,
            _ => {}
        }
    }
    f
}

/// `ip link show NAME`: index, name and MTU; `None` when there is no such link.
pub fn link_by_name(rtnl: &mut Rtnl, name: &str) -> Result<Option<LinkFacts>> {
    Ok(query(rtnl, by_name(name), name)?.as_ref().map(facts))
}

/// `ip link show` of link number `index`.
pub fn link_by_index(rtnl: &mut Rtnl, index: u32) -> Result<Option<LinkFacts>> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    Ok(query(rtnl, m, &format!("#{index}"))?.as_ref().map(facts))
}

fn parse(m: LinkMessage) -> VxlanLink {
    let mut v = VxlanLink {
        index: m.header.index,
        name: String::new(),
        mac: [0; 6],
        mtu: 0,
        up: m.header.flags.contains(LinkFlags::Up),
        alias: None,
        is_vxlan: false,
        vni: None,
        local: None,
        underlay_index: None,
        port: None,
        learning: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => v.name = n,
            LinkAttribute::Mtu(n) => v.mtu = n,
            LinkAttribute::IfAlias(a) if !a.is_empty() => v.alias = Some(a),
            LinkAttribute::Address(a) if a.len() == 6 => v.mac.copy_from_slice(&a),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(InfoKind::Vxlan) => v.is_vxlan = true,
                        LinkInfo::Data(InfoData::Vxlan(attrs)) => {
                            for x in attrs {
                                match x {
                                    InfoVxlan::Id(n) => v.vni = Some(n),
                                    InfoVxlan::Local(a) => v.local = Some(a),
                                    InfoVxlan::Link(n) => v.underlay_index = Some(n),
                                    InfoVxlan::Port(p) => v.port = Some(p),
                                    InfoVxlan::Learning(l) => v.learning = Some(l),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    v
}

/// `ip -d link show NAME`; `None` when there is no such link. A link of another kind comes
/// back with `is_vxlan: false`.
pub fn get(rtnl: &mut Rtnl, name: &str) -> Result<Option<VxlanLink>> {
    Ok(query(rtnl, by_name(name), name)?.map(parse))
}

/// Create the device, down: `ip link add NAME mtu M type vxlan id VNI local ADDR dev UNDERLAY
/// dstport PORT nolearning`. No `group`/`remote`: the kernel floods nothing, every destination
/// comes from a static FDB entry. The caller turns IPv6 link-local off while it is down
/// ([`super::link::no_ipv6_link_local`]: no DAD/RS/MLD traffic into the overlay), then
/// brings it up. Fails with EEXIST when a link of that name exists.
pub fn create(rtnl: &mut Rtnl, spec: &VxlanSpec) -> Result<()> {
    let mut m = by_name(&spec.name);
    m.attributes.push(LinkAttribute::Mtu(spec.mtu));
    if let Some(mac) = spec.mac {
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Vxlan),
        LinkInfo::Data(InfoData::Vxlan(vec![
            InfoVxlan::Id(spec.vni),
            InfoVxlan::Local(spec.local),
            InfoVxlan::Link(spec.underlay_index),
            InfoVxlan::Port(spec.port),
            InfoVxlan::Learning(false),
        ])),
    ]));
    rtnl.call(
        &format!("create VXLAN device {} (vni {})", spec.name, spec.vni),
        M::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `ip link set dev INDEX mtu MTU`.
pub fn set_mtu(rtnl: &mut Rtnl, index: u32, mtu: u32) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::Mtu(mtu));
    rtnl.call(
        &format!("set the MTU of link #{index} to {mtu}"),
        M::SetLink(m),
        0,
    )
}
