//! Forgetting flows whose NAT decision went stale (UDP and SCTP; a TCP client opens a new
//! connection, and with it a new conntrack entry). Netfilter NATs a flow on its first packet
//! only; a client that keeps its source port keeps the entry that packet made:
//!
//! | change | flows forgotten |
//! |---|---|
//! | a host port is published (`-p`), a node port created | sent to that port ([`to_ports`]): they were un-NATed, or DNAT'ed to a previous owner |
//! | a container with UDP/SCTP ports is removed | answered by its address ([`answered_by`]) |
//! | a service backend is dropped | answered by that backend on its target port ([`answered_by`]) |
//!
//! Called once the kernel's rules are in place, so the client's next packet is NAT'ed anew.
//! The container's or service's own change has succeeded by then: a failure here is a
//! warning, never an error. Cost: `docs/decisions/2026-11-27-conntrack-flush.md`.

use crate::kernel::conntrack::{Conntrack, Flows};
use crate::model::{PortMapping, Proto};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Protocols whose flows outlive a NAT change.
pub fn stale_prone(proto: Proto) -> bool {
    matches!(proto, Proto::Udp | Proto::Sctp)
}

fn forget(all: impl IntoIterator<Item = Flows>) {
    let mut ct: Option<Conntrack> = None;
    for flows in all {
        let res = match &mut ct {
            Some(c) => c.delete(&flows),
            None => Conntrack::open().and_then(|c| ct.insert(c).delete(&flows)),
        };
        if let Err(e) = res {
            eprintln!(
                "podnet: warning: stale {flows:?} conntrack entries were not deleted: {e}; \
                 their clients keep their old path until the entries expire"
            );
        }
    }
}

/// After ports are published: forget flows sent to each UDP/SCTP host port. A mapping with
/// no host address covers IPv4 when `v4` and IPv6 when `v6` (a dual-stack container's
/// port, a dual-stack service's node port); `0.0.0.0` and `::` are every address of their
/// family. Each family is one dump: an IPv4-only port costs what it did.
pub fn to_ports(ports: &[PortMapping], v4: bool, v6: bool) {
    let any = [
        v4.then_some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        v6.then_some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    ];
    forget(ports.iter().filter(|m| stale_prone(m.proto)).flat_map(|m| {
        let to: Vec<IpAddr> = match m.host_ip {
            Some(ip) => vec![ip],
            None => any.iter().flatten().copied().collect(),
        };
        to.into_iter().map(|to| Flows::ToPort {
            proto: m.proto,
            port: m.host_port,
            to,
        })
    }));
}

/// After `ip`'s ports are unpublished or it left services: forget the flows it answers, for
/// each UDP/SCTP `(proto, port)` (port None: any port).
pub fn answered_by(ip: IpAddr, which: impl IntoIterator<Item = (Proto, Option<u16>)>) {
    forget(
        which
            .into_iter()
            .filter(|(proto, _)| stale_prone(*proto))
            .map(|(proto, port)| Flows::AnsweredBy { proto, ip, port }),
    );
}
