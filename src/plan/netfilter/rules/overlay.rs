//! The cluster overlay's part of `ip podnet` (issue 11), present only when the node is in a
//! cluster: pods keep their addresses between nodes (no masquerade to the cluster's pod
//! CIDR), and the VXLAN device and the cluster network's bridge forward to each other both
//! ways, while every other podnet network stays as isolated from the overlay as it is from
//! other networks. Without an overlay none of this exists and the tables are byte for byte
//! what they were before.

use crate::kernel::nft::{DataType, Rule, Sel, Set, Stmt, TableDef, Verdict};
use DataType::{IfName, Ipv4Addr};
use Sel::*;

use super::{ct_dnat, in_concat, in_set, verdict, BRIDGES, MASQ_SUBNETS};

/// The node's VXLAN device(s).
pub const OVERLAY_DEVS: &str = "overlay_devs";
/// The cluster's pod CIDR(s): every node's pod subnet is in it.
pub const CLUSTER_SUBNETS: &str = "cluster_subnets";
/// `iifname . oifname` pairs allowed between the overlay and the cluster network's bridge.
pub const OVERLAY_LINKS: &str = "overlay_links";

pub fn sets() -> Vec<Set> {
    vec![
        Set::plain(OVERLAY_DEVS, vec![IfName]),
        Set::plain(CLUSTER_SUBNETS, vec![Ipv4Addr]).interval(),
        Set::plain(OVERLAY_LINKS, vec![IfName, IfName]),
    ]
}

fn position(t: &TableDef, rule: &Rule) -> usize {
    t.rules
        .iter()
        .position(|r| r == rule)
        .expect("the overlay's rules go next to rules the inet layout has")
}

/// Adds the overlay's sets and rules to `ip podnet` (`t`, without elements).
pub fn extend(t: &mut TableDef) {
    t.sets.extend(sets());
    // Before the outbound masquerade: to another node's pod the source stays the pod's.
    let masq = Rule::new(
        "postrouting",
        vec![
            in_set(IpSaddr, MASQ_SUBNETS),
            super::not_in_set(OifName, BRIDGES),
            Stmt::Masquerade,
        ],
    );
    let at = position(t, &masq);
    t.rules.insert(
        at,
        Rule::new(
            "postrouting",
            vec![in_set(IpDaddr, CLUSTER_SUBNETS), verdict(Verdict::Return)],
        ),
    );
    // Right after the published ports' accept (which stays reachable from anywhere) and
    // before the isolation between bridges: the overlay and the cluster network's bridge
    // pass, any other bridge to or from the overlay is dropped.
    let dnat = position(
        t,
        &Rule::new("forward", vec![ct_dnat(), verdict(Verdict::Accept)]),
    );
    t.rules.splice(
        dnat + 1..dnat + 1,
        [
            Rule::new(
                "forward",
                vec![
                    in_concat(vec![IifName, OifName], OVERLAY_LINKS),
                    verdict(Verdict::Accept),
                ],
            ),
            Rule::new(
                "forward",
                vec![
                    in_set(IifName, OVERLAY_DEVS),
                    in_set(OifName, BRIDGES),
                    verdict(Verdict::Drop),
                ],
            ),
            Rule::new(
                "forward",
                vec![
                    in_set(IifName, BRIDGES),
                    in_set(OifName, OVERLAY_DEVS),
                    verdict(Verdict::Drop),
                ],
            ),
        ],
    );
}
