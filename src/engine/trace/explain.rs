//! From a trace hit to the podnet object that decided it, in words. Pure: the rules are
//! told apart by their table, chain, the sets their lookups name and their verdict (the
//! layout of `plan::netfilter` and `plan::services`, which keeps one rule per job), and the
//! objects are found in the store's facts by the packet's addresses and ports.

use crate::kernel::nft::trace::{Headers, TraceVerdict};
use crate::model::{Network, PortMapping};
use crate::store::api::ServiceRecord;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What the store says, read once per trace.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub networks: Vec<Network>,
    /// (container, an address of it): its IPv4 and, on a dual-stack network, its IPv6.
    pub endpoints: Vec<(String, IpAddr)>,
    /// (container address, published port).
    pub ports: Vec<(Ipv4Addr, PortMapping)>,
    pub services: Vec<ServiceRecord>,
    /// (container, host end of its veth: its bridge port).
    pub ports_of: Vec<(String, String)>,
}

impl Facts {
    pub fn network_of_bridge(&self, bridge: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.bridge == bridge)
    }
    pub fn network_of_ip(&self, ip: IpAddr) -> Option<&Network> {
        self.networks.iter().find(|n| match ip {
            IpAddr::V4(a) => n.subnet.contains(&a),
            IpAddr::V6(a) => n.subnet6.is_some_and(|s| s.contains(&a)),
        })
    }
    pub fn container_of_ip(&self, ip: IpAddr) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(_, a)| *a == ip)
            .map(|(n, _)| n.as_str())
    }
    /// The published port a packet to `daddr:dport` (proto) hits: one on that very host
    /// address wins over one on all addresses (as in the ruleset). Ports are recorded by
    /// the container's IPv4 address; see [`Facts::address_of`] for its other family.
    pub fn published(
        &self,
        proto: u8,
        daddr: IpAddr,
        dport: u16,
    ) -> Option<&(Ipv4Addr, PortMapping)> {
        let on = |want: Option<IpAddr>| {
            self.ports.iter().find(|(_, m)| {
                m.proto.number() == proto && m.host_port == dport && m.host_ip == want
            })
        };
        on(Some(daddr)).or_else(|| on(None))
    }
    /// The container's address of the family of `like`.
    pub fn address_of(&self, container: &str, like: IpAddr) -> Option<IpAddr> {
        self.endpoints
            .iter()
            .find(|(n, a)| n == container && a.is_ipv6() == like.is_ipv6())
            .map(|(_, a)| *a)
    }
    pub fn service_at(&self, proto: u8, vip: IpAddr, port: u16) -> Option<&ServiceRecord> {
        self.services.iter().find(|s| {
            let at = match vip {
                IpAddr::V4(v) => s.service.vip == Some(v),
                IpAddr::V6(v) => s.service.vip6 == Some(v),
            };
            at && s
                .service
                .ports
                .iter()
                .any(|p| p.port == port && p.proto.number() == proto)
        })
    }
    pub fn service_with_node_port(&self, proto: u8, port: u16) -> Option<&ServiceRecord> {
        self.services.iter().find(|s| {
            s.service
                .ports
                .iter()
                .any(|p| p.node_port == Some(port) && p.proto.number() == proto)
        })
    }
    fn net_name(&self, bridge: Option<&str>) -> String {
        match bridge {
            Some(b) => match self.network_of_bridge(b) {
                Some(n) => n.name.clone(),
                None => b.to_string(),
            },
            None => "?".into(),
        }
    }
    /// The container whose bridge port (host veth end) this is.
    pub fn container_of_port(&self, port: &str) -> Option<&str> {
        self.ports_of
            .iter()
            .find(|(_, p)| p == port)
            .map(|(c, _)| c.as_str())
    }
    /// "container a1" for a container's bridge port, else the interface's name.
    fn port_owner(&self, port: Option<&str>) -> String {
        match port {
            Some(p) => match self.container_of_port(p) {
                Some(c) => format!("container {c}"),
                None => p.to_string(),
            },
            None => "?".into(),
        }
    }
    fn who(&self, ip: IpAddr) -> String {
        match self.container_of_ip(ip) {
            Some(c) => c.to_string(),
            None => ip.to_string(),
        }
    }
}

/// One trace hit with what is needed to explain it.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    /// `ip`, `ip6`, `inet`, `bridge`, ...
    pub family: &'a str,
    pub table: &'a str,
    pub chain: &'a str,
    /// The sets the matched rule looks up (empty for a policy).
    pub sets: &'a [String],
    /// Position of the rule in its chain.
    pub index: Option<usize>,
    pub is_rule: bool,
    pub verdict: &'a TraceVerdict,
    pub packet: Option<Headers>,
    /// The packet as the next hop of the same namespace saw it (after a NAT rule).
    pub after: Option<Headers>,
    pub iif: Option<&'a str>,
    pub oif: Option<&'a str>,
    /// The container whose namespace the hit is in (None: the host).
    pub container: Option<&'a str>,
}

/// What a hit means: the object, and for a drop why and what would fix it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meaning {
    pub object: Option<String>,
    pub why: Option<String>,
    pub fix: Option<String>,
}

/// `10.89.0.2:80`, `[fd00:90::2]:80`.
pub fn hostport(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

fn has(sets: &[String], name: &str) -> bool {
    sets.iter().any(|s| s == name)
}

/// The podnet object behind a hit (none for tables that are not podnet's).
pub fn explain(h: &Hit, f: &Facts) -> Meaning {
    let object = |s: String| Meaning {
        object: Some(s),
        ..Meaning::default()
    };
    let dropped = |o: String, why: String, fix: String| Meaning {
        object: Some(o),
        why: Some(why),
        fix: Some(fix),
    };
    let p = h.packet;
    let drop = matches!(h.verdict, TraceVerdict::Drop);
    match (h.family, h.table, h.chain) {
        ("ip" | "ip6", "podnet", "guard" | "input") if drop && h.is_rule => dropped(
            "podnet's loopback guard".into(),
            format!(
                "podnet never lets a packet from a container reach the host's {}",
                if h.family == "ip6" {
                    "::1"
                } else {
                    "127.0.0.0/8"
                }
            ),
            "reach the host at the network's gateway address, or publish the service's port".into(),
        ),
        ("ip" | "ip6", "podnet", "prerouting" | "output") if h.is_rule => {
            if has(h.sets, "ports") || has(h.sets, "ports_any") {
                let hit = p.and_then(|p| Some((p, f.published(p.proto, p.daddr, p.dport)?)));
                match hit {
                    Some((p, (ip, m))) => {
                        let who = f.who(IpAddr::V4(*ip));
                        let to = f.address_of(&who, p.daddr).unwrap_or(IpAddr::V4(*ip));
                        object(format!(
                            "published port {} of {who} (-> {})",
                            m.host_port,
                            hostport(to, m.container_port)
                        ))
                    }
                    None => object("a published port".into()),
                }
            } else {
                object("loopback traffic is left as it is".into())
            }
        }
        ("ip" | "ip6", "podnet", "postrouting") if h.is_rule => {
            let to = f.net_name(h.oif);
            if has(h.sets, "masq_subnets") {
                let net = p
                    .and_then(|p| f.network_of_ip(p.saddr))
                    .map_or("?".into(), |n| format!("{} ({})", n.name, n.bridge));
                object(format!("masquerade for network {net}"))
            } else if has(h.sets, "subnets") {
                object(format!("hairpin masquerade on network {to}"))
            } else {
                object(format!(
                    "masquerade of the host's loopback connection onto network {to}"
                ))
            }
        }
        ("ip" | "ip6", "podnet", "forward") if h.is_rule => {
            let (a, b) = (f.net_name(h.iif), f.net_name(h.oif));
            if has(h.sets, "same_bridge") {
                object(format!("network {a}: its containers talk to each other"))
            } else if has(h.sets, "internal_bridges") && drop {
                let iif_internal = h
                    .iif
                    .and_then(|i| f.network_of_bridge(i))
                    .is_some_and(|n| n.internal);
                if iif_internal {
                    dropped(
                        format!("network {a} is --internal"),
                        format!("network {a} is internal: its containers never reach outside it"),
                        format!("attach the container to a network without --internal (`podnet network connect NET CONTAINER`) as well as {a}"),
                    )
                } else {
                    dropped(
                        format!("network {b} is --internal"),
                        format!("network {b} is internal: nothing from outside it may enter"),
                        format!(
                            "put the sender on network {b}, or use a network without --internal"
                        ),
                    )
                }
            } else if has(h.sets, "bridges") && drop && a == b {
                // Routed back out through the gateway onto its own bridge (or bridged, with
                // br_netfilter): same_bridge holds only networks with icc.
                noicc(f, &a, h)
            } else if has(h.sets, "bridges") && drop {
                dropped(
                    format!("isolation between networks {a} and {b}"),
                    format!("networks {a} and {b} are isolated from each other: podnet drops traffic between their bridges"),
                    format!("connect one container to both networks (`podnet network connect {b} CONTAINER`), or publish the port and use the host's address"),
                )
            } else if h.index == Some(0) {
                object("an established connection".into())
            } else {
                object("DNAT'ed traffic (a published port or a service) may cross networks".into())
            }
        }
        ("ip" | "ip6", "podnet-svc" | "podnet-csvc", _) if h.is_rule => service_hit(h, f),
        ("bridge", "podnet", "prerouting") if drop => spoofed(f, h),
        ("bridge", "podnet", "prerouting") if h.is_rule && has(h.sets, "port_sources") => {
            object(format!(
                "anti-spoofing: {} sends from its own MAC and address",
                f.port_owner(h.iif)
            ))
        }
        ("bridge", "podnet", "prerouting") if h.is_rule && has(h.sets, "container_ports") => {
            object("anti-spoofing: not a container's bridge port, not checked".into())
        }
        ("bridge", "podnet", "forward") if drop => {
            let net = p
                .and_then(|p| f.network_of_ip(p.saddr).or(f.network_of_ip(p.daddr)))
                .map_or("?".into(), |n| n.name.clone());
            noicc(f, &net, h)
        }
        ("bridge", "podnet", "forward") if h.is_rule => {
            object("hairpin: a published port's traffic back onto its own bridge".into())
        }
        (_, t, c) if drop && !t.starts_with("podnet") => dropped(
            format!("{} {t} {c} (not podnet's)", h.family),
            format!(
                "a rule of table {} {t}, chain {c}, which podnet did not make, dropped it",
                h.family
            ),
            match h.container {
                Some(name) => format!(
                    "look at `podnet exec {name} -- nft -a list chain {} {t} {c}` (a rule of the container's own)",
                    h.family
                ),
                None => format!("look at `nft -a list chain {} {t} {c}`", h.family),
            },
        ),
        _ => Meaning::default(),
    }
}

/// A frame dropped by anti-spoofing as it entered the bridge from a container's port.
fn spoofed(f: &Facts, h: &Hit) -> Meaning {
    let who = f.port_owner(h.iif);
    let own = h
        .iif
        .and_then(|p| f.container_of_port(p))
        .zip(h.packet)
        .and_then(|(c, p)| f.address_of(c, p.saddr));
    let sent = h
        .packet
        .map_or(String::new(), |p| format!(" from {}", p.saddr));
    let (why, fix) = match own {
        Some(ip) => (
            format!("{who} sent{sent}, which is not its own address {ip} (or not from its own MAC), so anti-spoofing on its bridge port dropped the frame"),
            format!("send from {ip}, the address podnet gave it; for another address, attach it to the network that has one (`podnet network connect NET CONTAINER`)"),
        ),
        None => (
            format!("{who} sent{sent} with a source MAC or address podnet did not give it, so anti-spoofing on its bridge port dropped the frame"),
            "send from the container's own address (see `podnet inspect`)".into(),
        ),
    };
    Meaning {
        object: Some(format!("anti-spoofing for {who}")),
        why: Some(why),
        fix: Some(fix),
    }
}

/// Traffic between two containers of one `--icc=false` network.
fn noicc(f: &Facts, net: &str, h: &Hit) -> Meaning {
    let (a, b) = (f.port_owner(h.iif), f.port_owner(h.oif));
    let between = match (
        h.iif.and_then(|i| f.container_of_port(i)),
        h.oif.and_then(|o| f.container_of_port(o)),
    ) {
        (Some(_), Some(_)) => format!(" ({a} -> {b})"),
        _ => String::new(),
    };
    Meaning {
        object: Some(format!("--icc=false on network {net}")),
        why: Some(format!(
            "network {net} has --icc=false: its containers may not talk to each other{between}"
        )),
        fix: Some(format!(
            "publish the port and use the host's address, or connect both containers to a network with icc (`podnet network connect NET CONTAINER`) instead of {net}"
        )),
    }
}

fn service_hit(h: &Hit, f: &Facts) -> Meaning {
    let object = |s: String| Meaning {
        object: Some(s),
        ..Meaning::default()
    };
    let p = h.packet;
    let svc = p.and_then(|p| {
        f.service_at(p.proto, p.daddr, p.dport)
            .or_else(|| f.service_with_node_port(p.proto, p.dport))
    });
    let name = svc.map_or("?".to_string(), |s| s.service.name.clone());
    match (h.chain, h.verdict) {
        (_, TraceVerdict::Goto(c) | TraceVerdict::Jump(c)) if c == "no_endpoints" => {
            object(format!("service {name} (no backend)"))
        }
        ("prerouting" | "output", TraceVerdict::Goto(_) | TraceVerdict::Jump(_)) => {
            if has(h.sets, "node_ports") {
                object(format!("node port {} of service {name}", p.map_or(0, |p| p.dport)))
            } else {
                object(format!(
                    "service {name} ({})",
                    p.map_or("?".into(), |p| format!("{}:{}", p.daddr, p.dport))
                ))
            }
        }
        ("no_endpoints", _) => Meaning {
            object: Some(format!("service {name} has no backend")),
            why: Some(format!(
                "service {name} has no backend, so podnet rejects its connections"
            )),
            fix: Some(format!(
                "give {name} a backend: run a container it selects, or `podnet service rm {name}` and create it again with --backend NAME:PORT"
            )),
        },
        (c, _) if c.starts_with("bucket_") || c.starts_with("np_bucket_") || c.starts_with("affinity") || c == "prerouting" || c == "output" => {
            let backend = h.after.map_or("?".into(), |a| {
                format!("{} ({})", f.who(a.daddr), hostport(a.daddr, a.dport))
            });
            // The service is the one of the packet before the rewrite.
            object(format!("service {name}, backend {backend}"))
        }
        _ => Meaning::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetworkState, Proto};

    fn net(name: &str, bridge: &str, subnet: &str, internal: bool) -> Network {
        Network {
            id: 1,
            name: name.into(),
            bridge: bridge.into(),
            subnet: subnet.parse().unwrap(),
            gateway: subnet.parse::<ipnet::Ipv4Net>().unwrap().network(),
            subnet6: None,
            gateway6: None,
            nat6: true,
            mtu: 1500,
            internal,
            icc: true,
            dns: false,
            delegated: false,
            state: NetworkState::Ready,
            macvlan: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            networks: vec![
                net("app", "pn-app", "10.89.0.0/24", false),
                net("db", "pn-db", "10.90.0.0/24", true),
            ],
            endpoints: vec![
                ("web".into(), "10.89.0.2".parse().unwrap()),
                ("web".into(), "fd00:89::2".parse().unwrap()),
            ],
            ports: vec![(
                "10.89.0.2".parse().unwrap(),
                PortMapping {
                    host_ip: None,
                    host_port: 8080,
                    container_port: 80,
                    proto: Proto::Tcp,
                },
            )],
            services: vec![],
            ports_of: vec![("web".into(), "pnv7".into())],
        }
    }

    fn hdr(s: &str, sp: u16, d: &str, dp: u16) -> Headers {
        Headers {
            proto: 6,
            saddr: s.parse().unwrap(),
            daddr: d.parse().unwrap(),
            sport: sp,
            dport: dp,
        }
    }

    fn hit<'a>(chain: &'a str, sets: &'a [String], v: &'a TraceVerdict, p: Headers) -> Hit<'a> {
        Hit {
            family: "ip",
            table: "podnet",
            chain,
            sets,
            index: Some(5),
            is_rule: true,
            verdict: v,
            packet: Some(p),
            after: None,
            iif: Some("pn-app"),
            oif: Some("pn-db"),
            container: None,
        }
    }

    #[test]
    fn names_the_objects_behind_the_rules() {
        let f = facts();
        let ports = vec!["ports_any".to_string()];
        let m = explain(
            &hit(
                "prerouting",
                &ports,
                &TraceVerdict::Accept,
                hdr("198.18.0.2", 5, "198.18.0.1", 8080),
            ),
            &f,
        );
        assert_eq!(
            m.object.as_deref(),
            Some("published port 8080 of web (-> 10.89.0.2:80)")
        );
        let bridges = vec!["bridges".to_string(), "bridges".to_string()];
        let m = explain(
            &hit(
                "forward",
                &bridges,
                &TraceVerdict::Drop,
                hdr("10.89.0.2", 5, "10.90.0.2", 80),
            ),
            &f,
        );
        assert_eq!(
            m.object.as_deref(),
            Some("isolation between networks app and db")
        );
        assert!(m.why.unwrap().contains("app and db are isolated"));
        let internal = vec!["internal_bridges".to_string()];
        let m = explain(
            &hit(
                "forward",
                &internal,
                &TraceVerdict::Drop,
                hdr("10.89.0.2", 5, "10.90.0.2", 80),
            ),
            &f,
        );
        assert_eq!(m.object.as_deref(), Some("network db is --internal"));
        let masq = vec!["masq_subnets".to_string(), "bridges".to_string()];
        let m = explain(
            &hit(
                "postrouting",
                &masq,
                &TraceVerdict::Accept,
                hdr("10.89.0.2", 5, "1.1.1.1", 80),
            ),
            &f,
        );
        assert_eq!(
            m.object.as_deref(),
            Some("masquerade for network app (pn-app)")
        );
    }

    #[test]
    fn bridge_drops_name_the_container_and_the_network() {
        let mut f = facts();
        f.ports_of.push(("peer".into(), "pnv8".into()));
        let none: Vec<String> = vec![];
        let spoof = hdr("10.89.0.99", 5, "10.89.0.3", 80);
        let mut h = hit("prerouting", &none, &TraceVerdict::Drop, spoof);
        (h.family, h.iif, h.oif) = ("bridge", Some("pnv7"), None);
        let m = explain(&h, &f);
        assert_eq!(m.object.as_deref(), Some("anti-spoofing for container web"));
        let why = m.why.unwrap();
        assert!(
            why.contains("sent from 10.89.0.99, which is not its own address 10.89.0.2"),
            "{why}"
        );
        assert!(m.fix.unwrap().contains("send from 10.89.0.2"));

        let own = vec!["port_sources".to_string()];
        h.sets = &own;
        h.verdict = &TraceVerdict::Accept;
        assert_eq!(
            explain(&h, &f).object.as_deref(),
            Some("anti-spoofing: container web sends from its own MAC and address")
        );

        let mut h = hit("forward", &none, &TraceVerdict::Drop, spoof);
        (h.family, h.iif, h.oif) = ("bridge", Some("pnv7"), Some("pnv8"));
        let m = explain(&h, &f);
        assert_eq!(m.object.as_deref(), Some("--icc=false on network app"));
        assert!(m.why.unwrap().contains("(container web -> container peer)"));

        // Routed back out onto its own bridge: ip podnet's isolation rule, icc=false's words.
        let bridges = vec!["bridges".to_string(), "bridges".to_string()];
        let mut h = hit("forward", &bridges, &TraceVerdict::Drop, spoof);
        h.oif = Some("pn-app");
        let m = explain(&h, &f);
        assert_eq!(m.object.as_deref(), Some("--icc=false on network app"));
    }

    #[test]
    fn ipv6_hits_name_the_same_objects() {
        let mut f = facts();
        f.networks[0].subnet6 = Some("fd00:89::/64".parse().unwrap());
        let ports = vec!["ports_any".to_string()];
        let mut h = hit(
            "output",
            &ports,
            &TraceVerdict::Accept,
            hdr("::1", 5, "::1", 8080),
        );
        h.family = "ip6";
        assert_eq!(
            explain(&h, &f).object.as_deref(),
            Some("published port 8080 of web (-> [fd00:89::2]:80)")
        );
        let masq = vec!["masq_subnets".to_string()];
        let out = hdr("fd00:89::2", 5, "2001:db8::1", 80);
        let mut h = hit("postrouting", &masq, &TraceVerdict::Accept, out);
        h.family = "ip6";
        assert_eq!(
            explain(&h, &f).object.as_deref(),
            Some("masquerade for network app (pn-app)")
        );
        let none: Vec<String> = vec![];
        let spoof = hdr("fd00:89::99", 5, "fd00:89::3", 80);
        let mut h = hit("prerouting", &none, &TraceVerdict::Drop, spoof);
        (h.family, h.iif) = ("bridge", Some("pnv7"));
        let why = explain(&h, &f).why.unwrap();
        assert!(why.contains("not its own address fd00:89::2"), "{why}");
    }

    #[test]
    fn foreign_drops_say_whose_they_are_and_accepts_of_others_say_nothing() {
        let f = facts();
        let mut h = hit(
            "FORWARD",
            &[],
            &TraceVerdict::Drop,
            hdr("10.89.0.2", 5, "1.1.1.1", 80),
        );
        h.table = "filter";
        assert!(explain(&h, &f).why.unwrap().contains("not make"));
        h.verdict = &TraceVerdict::Accept;
        assert_eq!(explain(&h, &f), Meaning::default());
    }
}
