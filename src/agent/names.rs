//! The store's names as the DNS server's table and listen addresses: the only glue between
//! `Reads::dns_names` and `dns`.

use crate::dns;
use crate::model::NetworkNames;
use ipnet::IpNet;

/// The search domain: `db.dns.podnet` answers like `db`, and an unknown name under it is
/// NXDOMAIN (never forwarded). A container's resolv.conf may list it as a search domain.
pub const ZONE: &str = "dns.podnet";

/// The DNS server's names for what the store says.
pub fn to_dns(nets: &[NetworkNames]) -> dns::Names {
    dns::Names {
        zone: Some(ZONE.into()),
        networks: nets
            .iter()
            .map(|n| dns::NetworkNames {
                name: n.network.name.clone(),
                gateways: n.network.dns_servers(),
                subnets: std::iter::once(IpNet::V4(n.network.subnet))
                    .chain(n.network.subnet6.map(IpNet::V6))
                    .collect(),
                records: n
                    .records
                    .iter()
                    .map(|r| dns::NameRecord {
                        owner: r.owner.clone(),
                        names: r.names.clone(),
                        addrs: r.addrs.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Where to serve: every gateway of every DNS-enabled network, bound to its bridge (never
/// reachable from another interface).
pub fn listen_of(nets: &[NetworkNames]) -> Vec<dns::Listen> {
    nets.iter()
        .flat_map(|n| {
            n.network.dns_servers().into_iter().map(|addr| dns::Listen {
                addr,
                device: Some(n.network.bridge.clone()),
            })
        })
        .collect()
}
