//! `table netdev podnet`, present only while a dual-stack network exists: one ingress chain
//! per dual-stack bridge, which hands the host's own de-NATed `[::1]` replies to `lo`.

use std::net::Ipv6Addr;

use crate::kernel::nft::{Chain, Family, Rule, Sel, Stmt, Table};
use crate::plan::family::AddrFamily;

use super::{meta_protocol_of, TABLE};

/// `table netdev podnet` (see [`loopback_rule`]).
pub fn netdev_table() -> Table {
    Table::new(Family::Netdev, TABLE)
}

/// The packet-mark bit that tells a bridge's ingress chain "a reply to the host's own
/// `[::1]:PORT`, de-NATed by br_netfilter": set in `ip6 podnet` prerouting, cleared before
/// the packet is handed to `lo`. One bit, kept clear of the bits kube-proxy (0x4000, 0x8000)
/// and Calico (0xffff0000) use.
pub const LOOPBACK_REPLY_MARK: u32 = 0x0010_0000;

/// `lo` is interface 1 in every network namespace.
const LO_IFINDEX: u32 = 1;

/// The ingress chain of one dual-stack bridge, named after it.
pub fn loopback_chain(bridge: &str) -> Chain {
    Chain::ingress(format!("lo6_{bridge}"), bridge, 0)
}

/// Its one rule: a marked `::1` reply gets `lo`'s (all-zero) MAC, so that `lo` takes it as
/// its own, loses the mark and goes to `lo`; there it is a loopback packet on the loopback
/// device, routed to the host's socket.
pub fn loopback_rule(bridge: &str) -> Rule {
    Rule::new(
        loopback_chain(bridge).name,
        vec![
            Stmt::AnyBits {
                sel: Sel::Mark,
                mask: LOOPBACK_REPLY_MARK,
            },
            meta_protocol_of::<Ipv6Addr>(),
            Ipv6Addr::loopback(Sel::Ip6Daddr),
            Stmt::MarkUpdate {
                and: !LOOPBACK_REPLY_MARK,
                xor: 0,
            },
            Stmt::EtherDaddrSet([0; 6]),
            Stmt::Fwd {
                ifindex: LO_IFINDEX,
            },
        ],
    )
}
