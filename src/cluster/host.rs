//! A node's own routes against the cluster's pod CIDR, checked when its agent joins: a
//! route of the host into (or around) the pod CIDR — a LAN, a VPN — would make pods'
//! traffic to some other node's subnet ambiguous (which way does 10.244.5.7 go?), so the
//! join is refused naming the route, before anything is written to etcd.
//!
//! Routes through podnet's own links (alias `podnet:…`: the overlay device, podnet's
//! bridges) are podnet's to manage and are left out: an agent restarted on a node that
//! already carries the overlay must not refuse its own routes.

use super::config::ClusterConfig;
use ipnet::Ipv4Net;

/// One of the host's routes, with the link it goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoute {
    pub dst: Ipv4Net,
    /// The link's name (None: no output link, e.g. a blackhole or multipath route).
    pub dev: Option<String>,
    /// The link is podnet's (its alias starts with `podnet:`).
    pub podnet: bool,
}

impl std::fmt::Display for HostRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.dev {
            Some(d) => write!(f, "{} dev {d}", self.dst),
            None => write!(f, "{}", self.dst),
        }
    }
}

/// The first route of someone else's that overlaps the pod CIDR (default routes aside).
pub fn conflict<'a>(cfg: &ClusterConfig, routes: &'a [HostRoute]) -> Option<&'a HostRoute> {
    routes.iter().find(|r| {
        !r.podnet
            && cfg
                .overlapping_route(std::slice::from_ref(&r.dst))
                .is_some()
    })
}

/// The host's routes of the main table, with their links.
pub fn routes() -> crate::model::Result<Vec<HostRoute>> {
    let mut rtnl = crate::kernel::nl::Rtnl::open()?;
    let links = crate::kernel::link::list(&mut rtnl)?;
    let routes = crate::kernel::route::list(&mut rtnl)?;
    Ok(routes
        .into_iter()
        .map(|r| {
            let link = r.oif.and_then(|i| links.iter().find(|l| l.index == i));
            HostRoute {
                dst: r.dst,
                dev: link.map(|l| l.name.clone()),
                podnet: link
                    .and_then(|l| l.alias.as_deref())
                    .is_some_and(|a| a.starts_with("podnet:")),
            }
        })
        .collect())
}

/// `Err` (one line) when one of the host's routes overlaps the cluster's pod CIDR.
pub fn check(cfg: &ClusterConfig) -> crate::model::Result<()> {
    let routes = routes()?;
    match conflict(cfg, &routes) {
        None => Ok(()),
        Some(r) => Err(crate::model::Error::input(format!(
            "the cluster's pod CIDR {} overlaps this node's route to {r}: pods could not tell \
             that network from other nodes' pods; move that network off the pod CIDR, or use a \
             cluster with another --pod-cidr",
            cfg.pod_cidr
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, dev: &str, podnet: bool) -> HostRoute {
        HostRoute {
            dst: dst.parse().unwrap(),
            dev: Some(dev.into()),
            podnet,
        }
    }

    #[test]
    fn foreign_routes_into_or_around_the_pod_cidr_conflict_podnets_own_do_not() {
        let cfg = ClusterConfig::new("10.244.0.0/16", 24, 1).unwrap();
        let ok = [
            route("0.0.0.0/0", "eth0", false),
            route("192.168.50.0/24", "eth0", false),
            // The overlay's route to a remote node, this node's own pod bridge.
            route("10.244.3.0/24", "podnet.1", true),
            route("10.244.1.0/24", "cbr0", true),
        ];
        assert_eq!(conflict(&cfg, &ok), None);
        let table = [
            (
                route("10.244.77.0/24", "lan0", false),
                "10.244.77.0/24 dev lan0",
            ),
            (route("10.0.0.0/8", "vpn0", false), "10.0.0.0/8 dev vpn0"),
            (
                route("10.244.0.0/16", "eth1", false),
                "10.244.0.0/16 dev eth1",
            ),
        ];
        for (bad, text) in table {
            let mut all = ok.to_vec();
            all.push(bad.clone());
            assert_eq!(conflict(&cfg, &all), Some(&bad));
            assert_eq!(bad.to_string(), text);
        }
    }
}
