//! The IP families of a service (`--ip-family`), its IPv6 range, and the whole service with
//! one VIP per family. Pure.
//!
//! As in Kubernetes (`ipFamilyPolicy`/`ipFamilies`/`clusterIPs`): a service is single-stack
//! IPv4 unless asked otherwise; `--vip` given without `--ip-family` decides the family (an
//! IPv6 `--vip` alone makes an IPv6 service, one of each a dual-stack one); a dual-stack
//! service has one VIP per family and IPv4 first.

use super::{Service, Service6, ServicePort};
use crate::model::error::{Error, Result};
use ipnet::Ipv6Net;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which families a service answers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamilies {
    Ipv4,
    Ipv6,
    Dual,
}

impl IpFamilies {
    /// `--ip-family ipv4|ipv6|dual`.
    pub fn parse(spec: &str) -> Result<IpFamilies> {
        match spec {
            "ipv4" | "IPv4" => Ok(IpFamilies::Ipv4),
            "ipv6" | "IPv6" => Ok(IpFamilies::Ipv6),
            "dual" | "dual-stack" => Ok(IpFamilies::Dual),
            _ => Err(Error::field(
                "--ip-family",
                format!("invalid --ip-family {spec:?}: use ipv4, ipv6 or dual"),
            )),
        }
    }

    pub fn has_v4(self) -> bool {
        self != IpFamilies::Ipv6
    }

    pub fn has_v6(self) -> bool {
        self != IpFamilies::Ipv4
    }

    /// The families of a service with these VIPs (one at least).
    pub fn of(vip: Option<Ipv4Addr>, vip6: Option<Ipv6Addr>) -> IpFamilies {
        match (vip, vip6) {
            (Some(_), Some(_)) => IpFamilies::Dual,
            (None, Some(_)) => IpFamilies::Ipv6,
            _ => IpFamilies::Ipv4,
        }
    }
}

impl fmt::Display for IpFamilies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamilies::Ipv4 => "ipv4",
            IpFamilies::Ipv6 => "ipv6",
            IpFamilies::Dual => "dual",
        })
    }
}

/// The range IPv6 VIPs are allocated from when no IPv6 `--vip` is given: `fd00:43::/112`,
/// 65,536 addresses like the IPv4 `10.43.0.0/16` it mirrors. A fixed ULA (RFC 4193 space,
/// never routed off the host) rather than one carved from the host's random network prefix,
/// so it is known before any IPv6 network exists and the same on every host, as a cluster's
/// service range is; a network whose IPv6 subnet overlaps it is refused by the service side
/// (`check_vip6` and the engine's overlap check) and should be by network create.
pub fn default_service_range6() -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::new(0xfd00, 0x43, 0, 0, 0, 0, 0, 0), 112).expect("valid prefix")
}

/// An IPv6 VIP must be a host address of `range` (not its first address, the subnet-router
/// anycast address).
pub fn check_vip6(name: &str, vip6: Ipv6Addr, range: &Ipv6Net) -> Result<()> {
    if !range.contains(&vip6) || vip6 == range.network() {
        return Err(Error::field(
            "--vip",
            format!(
                "service {name}: --vip {vip6} is not a host address of the IPv6 service range {range}; pick one inside it"
            ),
        ));
    }
    Ok(())
}

/// `--vip` values (at most one per family) against `--ip-family` (None: decided by the VIPs).
pub fn resolve_vips(
    family: Option<IpFamilies>,
    vips: &[IpAddr],
) -> Result<(IpFamilies, Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let (mut v4, mut v6) = (None, None);
    for ip in vips {
        let twice = match ip {
            IpAddr::V4(a) => v4.replace(*a).is_some(),
            IpAddr::V6(a) => v6.replace(*a).is_some(),
        };
        if twice {
            return Err(Error::field(
                "--vip",
                "--vip is given twice for one family: give at most one IPv4 and one IPv6 VIP",
            ));
        }
    }
    let family = family.unwrap_or(IpFamilies::of(v4, v6));
    if let (false, Some(a)) = (family.has_v6(), v6) {
        return Err(Error::field(
            "--vip",
            format!("--vip {a} is an IPv6 address on an {family} service: use --ip-family ipv6 or dual, or an IPv4 --vip"),
        ));
    }
    if let (false, Some(a)) = (family.has_v4(), v4) {
        return Err(Error::field(
            "--vip",
            format!("--vip {a} is an IPv4 address on an {family} service: use --ip-family ipv4 or dual, or an IPv6 --vip"),
        ));
    }
    Ok((family, v4, v6))
}

/// A whole service: both families' VIPs (one at least), its ports and affinity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceDef {
    pub name: String,
    pub ports: Vec<ServicePort>,
    pub affinity_timeout: Option<u32>,
    pub vip: Option<Ipv4Addr>,
    pub vip6: Option<Ipv6Addr>,
}

impl ServiceDef {
    pub fn family(&self) -> IpFamilies {
        IpFamilies::of(self.vip, self.vip6)
    }

    /// The primary VIP (Kubernetes' `clusterIP`): IPv4 when the service has one.
    pub fn primary_vip(&self) -> IpAddr {
        match (self.vip, self.vip6) {
            (Some(a), _) => IpAddr::V4(a),
            (None, Some(a)) => IpAddr::V6(a),
            (None, None) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// The IPv4 side, when the service has one.
    pub fn v4(&self) -> Option<Service> {
        self.vip.map(|vip| self.side(vip))
    }

    /// The IPv6 side, when the service has one.
    pub fn v6(&self) -> Option<Service6> {
        self.vip6.map(|vip| self.side(vip))
    }

    fn side<A>(&self, vip: A) -> super::ServiceOf<A> {
        super::ServiceOf {
            name: self.name.clone(),
            vip,
            ports: self.ports.clone(),
            affinity_timeout: self.affinity_timeout,
        }
    }
}

impl From<Service> for ServiceDef {
    fn from(s: Service) -> Self {
        ServiceDef {
            name: s.name,
            ports: s.ports,
            affinity_timeout: s.affinity_timeout,
            vip: Some(s.vip),
            vip6: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn families_follow_kubernetes() {
        use IpFamilies::*;
        let ok = |f: Option<IpFamilies>, v: &[&str]| resolve_vips(f, &ips(v)).unwrap().0;
        assert_eq!(ok(None, &[]), Ipv4);
        assert_eq!(ok(None, &["10.43.0.9"]), Ipv4);
        assert_eq!(ok(None, &["fd00:43::9"]), Ipv6);
        assert_eq!(ok(None, &["fd00:43::9", "10.43.0.9"]), Dual);
        assert_eq!(ok(Some(Dual), &[]), Dual);
        assert_eq!(ok(Some(Dual), &["fd00:43::9"]), Dual);
        for (f, v) in [
            (Some(Ipv4), &["fd00:43::9"][..]),
            (Some(Ipv6), &["10.43.0.9"][..]),
            (None, &["10.43.0.9", "10.43.0.8"][..]),
            (Some(Dual), &["fd00:43::9", "fd00:43::8"][..]),
        ] {
            let e = resolve_vips(f, &ips(v)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains("--vip"), "{e}");
        }
        assert!(IpFamilies::parse("ipv5").is_err());
        assert_eq!(IpFamilies::parse("dual").unwrap().to_string(), "dual");
    }

    #[test]
    fn range6_holds_host_addresses_only() {
        let r = default_service_range6();
        assert_eq!(r.to_string(), "fd00:43::/112");
        check_vip6("s", "fd00:43::1".parse().unwrap(), &r).unwrap();
        check_vip6("s", "fd00:43::ffff".parse().unwrap(), &r).unwrap();
        for bad in ["fd00:43::", "fd00:43::1:0", "fd00:44::1", "::1"] {
            assert!(check_vip6("s", bad.parse().unwrap(), &r).is_err(), "{bad}");
        }
    }
}
