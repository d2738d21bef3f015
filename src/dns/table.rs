//! The name table: what the agent fills from the store, compiled for lookups scoped by the
//! asker.
//!
//! A [`Names`] value is plain data (networks, their gateway addresses and subnets, and per
//! network the records: container names and aliases, service names and VIPs). [`Table`] is
//! its compiled form, immutable once built: the server swaps whole tables, so a lookup never
//! waits for an update and never sees half of one.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every name the server answers for, as the agent reads it from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Optional search domain (e.g. `dns.podnet`): `db.<zone>` answers like `db`, and a name
    /// under the zone that is not in the table is NXDOMAIN instead of being forwarded.
    pub zone: Option<String>,
    /// The DNS-enabled networks.
    pub networks: Vec<NetworkNames>,
}

/// One network's names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkNames {
    /// The network's name (for diagnostics only).
    pub name: String,
    /// Its gateway addresses (IPv4 and IPv6): a query that arrives on one of them is a query
    /// from this network.
    pub gateways: Vec<IpAddr>,
    /// Its subnets: reverse lookups inside them are answered here (NXDOMAIN when unknown),
    /// never forwarded.
    pub subnets: Vec<IpNet>,
    /// Containers (with their aliases) and services on this network.
    pub records: Vec<NameRecord>,
}

/// Names and addresses of one container (or service) on one network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameRecord {
    /// Identity of the owner across networks (the container id), so that a container on
    /// several networks is recognised as one asker. Empty for services (a VIP never asks).
    pub owner: String,
    /// The container name first (used for PTR answers), then its aliases.
    pub names: Vec<String>,
    /// Its addresses on this network (for a service, the VIP).
    pub addrs: Vec<IpAddr>,
}

/// What the table says about one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Addresses of the asked family (A or AAAA), never empty.
    Addrs(Vec<IpAddr>),
    /// PTR targets (fully qualified, trailing dot), never empty.
    Ptr(Vec<String>),
    /// The name exists for this asker but has no record of the asked type.
    NoData,
    /// The name is ours but not visible to this asker, or under our zone or plain (no dot)
    /// and unknown.
    NxDomain,
    /// Not ours: forward upstream.
    Forward,
}

/// The question's type, as far as the table cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    A,
    Aaaa,
    Ptr,
    /// Any other type: a known name gets NOERROR with no answer.
    Other,
}

type Net = u32;

/// Addresses of one name on one network.
#[derive(Debug, Default)]
struct Found {
    net: Net,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

/// A compiled, immutable [`Names`].
#[derive(Debug, Default)]
pub struct Table {
    zone: Option<String>,
    /// Gateway address → the network(s) a query arriving there comes from.
    gateways: HashMap<IpAddr, Vec<Net>>,
    /// (network, source address) of a known container → every network it is on.
    askers: HashMap<(Net, IpAddr), Vec<Net>>,
    /// Lowercase name without trailing dot → where it exists.
    names: HashMap<String, Vec<Found>>,
    /// Address → (network, fully qualified name) for PTR.
    ptr: HashMap<IpAddr, Vec<(Net, String)>>,
    subnets: Vec<IpNet>,
}

/// Lowercase, without the trailing dot: the form names are stored and looked up in.
pub fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Table {
    /// Compiles `names`. Never fails: a malformed name is simply never matched.
    pub fn build(names: &Names) -> Table {
        let zone = names.zone.as_deref().map(normal).filter(|z| !z.is_empty());
        let mut t = Table {
            zone,
            ..Table::default()
        };
        let mut owner_nets: HashMap<&str, Vec<Net>> = HashMap::new();
        for (i, net) in names.networks.iter().enumerate() {
            let n = i as Net;
            for g in &net.gateways {
                t.gateways.entry(*g).or_default().push(n);
            }
            t.subnets.extend(net.subnets.iter().copied());
            for r in net.records.iter().filter(|r| !r.owner.is_empty()) {
                let nets = owner_nets.entry(&r.owner).or_default();
                if !nets.contains(&n) {
                    nets.push(n);
                }
            }
        }
        for (i, net) in names.networks.iter().enumerate() {
            let n = i as Net;
            for r in &net.records {
                t.add_record(n, r, &owner_nets);
            }
        }
        t
    }

    fn add_record(&mut self, n: Net, r: &NameRecord, owner_nets: &HashMap<&str, Vec<Net>>) {
        let own = owner_nets
            .get(r.owner.as_str())
            .cloned()
            .unwrap_or_else(|| vec![n]);
        let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = r.addrs.iter().partition(|a| a.is_ipv4());
        for a in &r.addrs {
            if !r.owner.is_empty() {
                self.askers.insert((n, *a), own.clone());
            }
        }
        for name in r.names.iter().map(|s| normal(s)).filter(|s| !s.is_empty()) {
            let found = self.names.entry(name).or_default();
            let slot = match found.iter().position(|f| f.net == n) {
                Some(p) => &mut found[p],
                None => {
                    found.push(Found {
                        net: n,
                        ..Found::default()
                    });
                    found.last_mut().expect("just pushed")
                }
            };
            slot.v4.extend(v4.iter().map(|a| match a {
                IpAddr::V4(a) => *a,
                IpAddr::V6(_) => unreachable!("partitioned"),
            }));
            slot.v6.extend(v6.iter().map(|a| match a {
                IpAddr::V6(a) => *a,
                IpAddr::V4(_) => unreachable!("partitioned"),
            }));
        }
        if let Some(first) = r.names.first().map(|s| normal(s)).filter(|s| !s.is_empty()) {
            let fqdn = match &self.zone {
                Some(z) => format!("{first}.{z}."),
                None => format!("{first}."),
            };
            for a in &r.addrs {
                self.ptr.entry(*a).or_default().push((n, fqdn.clone()));
            }
        }
    }

    /// The networks whose names a query from `src` arriving at the local address `local`
    /// may see: every network of the asking container when it is known there, else the
    /// network(s) of the gateway it arrived on.
    fn visible(&self, local: IpAddr, src: IpAddr) -> Vec<Net> {
        let Some(arrival) = self.gateways.get(&local) else {
            return Vec::new();
        };
        for n in arrival {
            if let Some(nets) = self.askers.get(&(*n, src)) {
                return nets.clone();
            }
        }
        arrival.clone()
    }

    /// Answers `name` (any case, with or without trailing dot) of type `kind` for a query
    /// from `src` that arrived at `local`.
    pub fn lookup(&self, name: &str, kind: Kind, local: IpAddr, src: IpAddr) -> Lookup {
        let name = normal(name);
        if kind == Kind::Ptr {
            if let Some(ip) = parse_reverse(&name) {
                return self.lookup_ptr(ip, local, src);
            }
        }
        let (bare, under_zone) = match &self.zone {
            Some(z) if name == *z => (String::new(), true),
            Some(z) => match name
                .strip_suffix(z.as_str())
                .and_then(|p| p.strip_suffix('.'))
            {
                Some(p) => (p.to_string(), true),
                None => (name, false),
            },
            None => (name, false),
        };
        let Some(found) = self.names.get(&bare) else {
            // A plain name (no dot) means nothing to the internet's resolvers: it is ours,
            // unknown or not (dnsmasq's domain-needed), so a removed container is NXDOMAIN.
            return if under_zone || !bare.contains('.') {
                Lookup::NxDomain
            } else {
                Lookup::Forward
            };
        };
        let visible = self.visible(local, src);
        let mut seen = false;
        let mut addrs = Vec::new();
        for f in found.iter().filter(|f| visible.contains(&f.net)) {
            seen = true;
            match kind {
                Kind::A => addrs.extend(f.v4.iter().map(|a| IpAddr::V4(*a))),
                Kind::Aaaa => addrs.extend(f.v6.iter().map(|a| IpAddr::V6(*a))),
                Kind::Ptr | Kind::Other => {}
            }
        }
        if !seen {
            Lookup::NxDomain
        } else if addrs.is_empty() {
            Lookup::NoData
        } else {
            addrs.dedup();
            Lookup::Addrs(addrs)
        }
    }

    fn lookup_ptr(&self, ip: IpAddr, local: IpAddr, src: IpAddr) -> Lookup {
        let ours = self.subnets.iter().any(|s| s.contains(&ip));
        let Some(entries) = self.ptr.get(&ip) else {
            return if ours {
                Lookup::NxDomain
            } else {
                Lookup::Forward
            };
        };
        let visible = self.visible(local, src);
        let mut names: Vec<String> = entries
            .iter()
            .filter(|(n, _)| visible.contains(n))
            .map(|(_, name)| name.clone())
            .collect();
        names.dedup();
        if names.is_empty() {
            Lookup::NxDomain
        } else {
            Lookup::Ptr(names)
        }
    }

    /// Whether `addr` is a gateway of some network in the table.
    pub fn is_gateway(&self, addr: IpAddr) -> bool {
        self.gateways.contains_key(&addr)
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, 32 nibbles `.ip6.arpa`) stands for.
pub fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let parts: Vec<u8> = rest
            .split('.')
            .map(|p| {
                // Reject "01" and "+1": only canonical decimal octets name an address.
                if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                    None
                } else {
                    p.parse().ok()
                }
            })
            .collect::<Option<_>>()?;
        if parts.len() != 4 {
            return None;
        }
        return Some(IpAddr::V4(Ipv4Addr::new(
            parts[3], parts[2], parts[1], parts[0],
        )));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| {
            let mut c = p.chars();
            match (c.next(), c.next()) {
                (Some(d), None) => d.to_digit(16).map(|d| d as u8),
                _ => None,
            }
        })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // rchunks walks from the end: the last two nibbles are the first byte.
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

#[cfg(test)]
mod tests;
