//! macvlan networks (issue 13): containers directly on the parent's LAN, each with its own
//! MAC and address, no NAT. Pure: the record's shape and the parsing of its options.

use super::{Error, Result};
use ipnet::Ipv4Net;
use serde::Serialize;

/// How a network's containers are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// A podnet bridge holding the gateway, NAT out (the default).
    #[default]
    Bridge,
    /// A macvlan interface on a host interface (the parent), on its LAN.
    Macvlan,
}

impl Driver {
    pub fn parse(field: &str, s: &str) -> Result<Driver> {
        match s {
            "bridge" => Ok(Driver::Bridge),
            "macvlan" => Ok(Driver::Macvlan),
            _ => Err(Error::field(
                field,
                format!("driver '{s}' is not one podnet has: use bridge or macvlan"),
            )),
        }
    }
}

/// The kernel's macvlan modes (`ip link add ... type macvlan mode M`); no `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    /// Children reach each other inside the kernel (Docker's and CNI's default).
    #[default]
    Bridge,
    /// Children never reach each other, even through the LAN.
    Private,
    /// Children reach each other only through the LAN switch (hairpin there).
    Vepa,
    /// The one child takes the parent over (one container per parent).
    Passthru,
}

impl MacvlanMode {
    pub fn parse(field: &str, s: &str) -> Result<MacvlanMode> {
        Ok(match s {
            "bridge" => MacvlanMode::Bridge,
            "private" => MacvlanMode::Private,
            "vepa" => MacvlanMode::Vepa,
            "passthru" => MacvlanMode::Passthru,
            _ => {
                return Err(Error::field(
                    field,
                    format!("macvlan mode '{s}' is not one the kernel has: use bridge, private, vepa or passthru"),
                ))
            }
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Passthru => "passthru",
        }
    }
}

/// What a macvlan network records beside a bridge network's fields. Its `bridge` column holds
/// the name of its host shim (`pnm<id>`), which exists only with `host_access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Macvlan {
    /// The host interface the containers' macvlans sit on (`--parent`).
    pub parent: String,
    pub mode: MacvlanMode,
    /// Where container addresses come from (`--ip-range`; the whole subnet when not given).
    pub range: Ipv4Net,
    /// A macvlan shim on the host with a route to `range`: the host can reach its children
    /// (the kernel never delivers between a macvlan child and its parent).
    pub host_access: bool,
}

impl Macvlan {
    /// What `network inspect` says about reaching the containers from the host.
    pub fn host_note(&self, shim: &str) -> String {
        if self.host_access {
            format!(
                "the host reaches these containers through its macvlan shim {shim} (route to {})",
                self.range
            )
        } else {
            format!(
                "the host cannot reach these containers: the kernel never delivers between a macvlan interface and its parent {}; other machines on the LAN can (create the network with --host-access to add a host shim)",
                self.parent
            )
        }
    }
}

/// Two IPv4 subnets share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_drivers_parse_or_name_the_choices() {
        assert_eq!(MacvlanMode::parse("m", "vepa").unwrap(), MacvlanMode::Vepa);
        assert_eq!(Driver::parse("d", "macvlan").unwrap(), Driver::Macvlan);
        let e = MacvlanMode::parse("m", "source").unwrap_err().to_string();
        assert!(e.contains("bridge, private, vepa or passthru"), "{e}");
        assert!(Driver::parse("d", "ipvlan").is_err());
    }

    #[test]
    fn overlap_is_symmetric_and_exact() {
        let a: Ipv4Net = "192.168.1.192/27".parse().unwrap();
        let b: Ipv4Net = "192.168.1.200/29".parse().unwrap();
        let c: Ipv4Net = "192.168.1.224/27".parse().unwrap();
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&a, &c) && !overlaps(&c, &a));
    }
}
