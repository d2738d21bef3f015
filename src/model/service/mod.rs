//! Services (Kubernetes-style): a virtual IP on no interface whose ports are
//! DNAT'ed to backends chosen at random, optionally pinned per client.
//! Parsers for `podnet service create` flags. Pure: no I/O.
//!
//! ```text
//! podnet service create web --port 80:8080/tcp [--port 53/udp]
//!     [--ip-family ipv4|ipv6|dual] [--vip IP [--vip IP6]]
//!     (--selector app=web | --backend web1[:PORT] ...)
//!     [--affinity client-ip [--affinity-timeout 10800]] [--node-port 30080]
//! ```
//!
//! A service is IPv4 ([`Service`]), IPv6 ([`Service6`]) or both ([`ServiceDef`], one VIP
//! per family): the plan sees one family at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

use ipnet::Ipv4Net;

use super::error::{Error, Result};
use super::ports::Proto;

mod family;
mod request;
pub use family::{check_vip6, default_service_range6, resolve_vips, IpFamilies, ServiceDef};
pub use request::{ServiceRequest, ServiceSpec};

/// One port of a service: `VIP:port/proto` → each backend's `target_port`,
/// and, with `node_port`, every host address's `node_port/proto` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePort {
    pub port: u16,
    pub target_port: u16,
    pub proto: Proto,
    pub node_port: Option<u16>,
}

impl fmt::Display for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if self.target_port != self.port {
            write!(f, ":{}", self.target_port)?;
        }
        write!(f, "/{}", self.proto)?;
        if let Some(n) = self.node_port {
            write!(f, " (node port {n})")?;
        }
        Ok(())
    }
}

/// One family's side of a service: its VIP of that family (`A`: `Ipv4Addr` or `Ipv6Addr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceOf<A> {
    pub name: String,
    pub vip: A,
    pub ports: Vec<ServicePort>,
    /// ClientIP affinity: a client stays on one backend for this many
    /// seconds after its last new connection. `None`: every connection is
    /// balanced on its own.
    pub affinity_timeout: Option<u32>,
}

/// The IPv4 side of a service (all of an IPv4-only one).
pub type Service = ServiceOf<Ipv4Addr>;
/// The IPv6 side of a service.
pub type Service6 = ServiceOf<Ipv6Addr>;

/// A backend of a service: a container address of the service's family. `port`, when given
/// (`--backend web1:9090`), replaces the target port; only allowed on a
/// service with one port (see [`check_service`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendOf<A> {
    pub ip: A,
    pub port: Option<u16>,
}

/// An IPv4 backend.
pub type Backend = BackendOf<Ipv4Addr>;
/// An IPv6 backend.
pub type Backend6 = BackendOf<Ipv6Addr>;

impl<A> BackendOf<A> {
    pub fn new(ip: A) -> Self {
        BackendOf { ip, port: None }
    }

    /// The port this backend receives `p`'s traffic on.
    pub fn port_for(&self, p: &ServicePort) -> u16 {
        self.port.unwrap_or(p.target_port)
    }
}

/// Kubernetes' default `--service-node-port-range`.
pub const NODE_PORT_RANGE: RangeInclusive<u16> = 30000..=32767;

/// kube-proxy's default ClientIP affinity timeout (3 h).
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10800;

/// Longest affinity timeout accepted (Kubernetes' limit: one day).
pub const MAX_AFFINITY_TIMEOUT: u32 = 86400;

/// The range VIPs are allocated from when `--vip` is not given:
/// `10.43.0.0/16`, k3s's service CIDR. podnet's network pools are
/// 10.88.0.0/16 … 10.255.0.0/16 and then 172.16–31/16 (ipam::subnet), so it
/// never collides with them; Kubernetes' own default `10.96.0.0/12` would
/// (10.96–10.111 are podnet pools). It is not a route on the host by itself:
/// the engine adds one (see `plan::services`).
pub fn default_service_range() -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, 43, 0, 0), 16).expect("valid prefix")
}

const PORT_FORMAT: &str = "PORT[:TARGETPORT][/tcp|udp|sctp]";

/// `--port PORT[:TARGETPORT][/tcp|udp|sctp]`: `80:8080/tcp`, `53/udp`, `443`.
/// Default protocol tcp, default target port = port. No node port (that is
/// `--node-port`, see [`with_node_port`]).
pub fn parse_service_port(spec: &str) -> Result<ServicePort> {
    let bad = |what: &str| Error::input(format!("invalid --port {spec:?}: {what}"));
    if spec.is_empty() || spec.chars().any(char::is_whitespace) {
        return Err(bad(&format!("expected {PORT_FORMAT}, e.g. 80:8080/tcp")));
    }
    let (body, proto) = super::ports::split_proto(spec).map_err(|w| bad(&w))?;
    if body.contains('-') {
        return Err(bad(
            "port ranges are not supported for services; give one port",
        ));
    }
    let num = |p: &str, side: &str| -> Result<u16> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!(
                "{side} {p:?} is not a number; expected {PORT_FORMAT}"
            )));
        }
        match p.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(n as u16),
            _ => Err(bad(&format!("{side} {p} is out of range; use 1-65535"))),
        }
    };
    let (port, target) = match body.split(':').collect::<Vec<_>>().as_slice() {
        [p] => {
            let p = num(p, "port")?;
            (p, p)
        }
        [p, t] => (num(p, "port")?, num(t, "target port")?),
        _ => return Err(bad(&format!("expected {PORT_FORMAT}, e.g. 80:8080/tcp"))),
    };
    Ok(ServicePort {
        port,
        target_port: target,
        proto,
        node_port: None,
    })
}

/// `--node-port N` on a service: checked against `range` (default
/// [`NODE_PORT_RANGE`]) and given to every port of the service. Ports of
/// different protocols share N (`80/tcp` and `53/udp` both get N); a
/// second port of the same protocol gets N+1, and so on.
pub fn with_node_port(
    ports: &mut [ServicePort],
    node_port: u16,
    range: &RangeInclusive<u16>,
) -> Result<()> {
    let mut taken: Vec<(u32, Proto)> = vec![];
    for p in ports.iter_mut() {
        let mut n = u32::from(node_port);
        while taken.contains(&(n, p.proto)) {
            n += 1;
        }
        if n > u32::from(*range.end()) || node_port < *range.start() {
            return Err(Error::input(format!(
                "--node-port {node_port}: {n} is outside the node port range {}-{}; pick one inside it",
                range.start(),
                range.end()
            )));
        }
        taken.push((n, p.proto));
        p.node_port = Some(n as u16);
    }
    Ok(())
}

/// `--selector app=web,tier=x`: label pairs, keys unique.
pub fn parse_selector(spec: &str) -> Result<BTreeMap<String, String>> {
    let bad = |what: &str| Error::input(format!("invalid --selector {spec:?}: {what}"));
    let mut out = BTreeMap::new();
    if spec.trim().is_empty() {
        return Err(bad("expected KEY=VALUE[,KEY=VALUE...], e.g. app=web"));
    }
    for pair in spec.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(bad(&format!(
                "{pair:?} has no '='; expected KEY=VALUE, e.g. app=web"
            )));
        };
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        };
        if !ok(k) {
            return Err(bad(&format!(
                "key {k:?} must be 1-63 characters from [A-Za-z0-9_.-/]"
            )));
        }
        if !ok(v) {
            return Err(bad(&format!(
                "value {v:?} of {k} must be 1-63 characters from [A-Za-z0-9_.-/]"
            )));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(bad(&format!("key {k:?} is given twice; give it once")));
        }
    }
    Ok(out)
}

/// `--backend NAME[:PORT]`: a container name and an optional port override.
pub fn parse_backend(spec: &str) -> Result<(String, Option<u16>)> {
    let bad = |what: &str| Error::input(format!("invalid --backend {spec:?}: {what}"));
    let (name, port) = match spec.split_once(':') {
        None => (spec, None),
        Some((n, p)) => match p.parse::<u16>() {
            Ok(p) if p > 0 => (n, Some(p)),
            _ => return Err(bad(&format!("port {p:?} is not a number in 1-65535"))),
        },
    };
    super::validate_name("backend container", name).map_err(|e| bad(&e.to_string()))?;
    Ok((name.to_string(), port))
}

/// `--affinity-timeout S` (only with `--affinity client-ip`): 1..=86400 s.
pub fn parse_affinity_timeout(spec: &str) -> Result<u32> {
    match spec.parse::<u32>() {
        Ok(n @ 1..=MAX_AFFINITY_TIMEOUT) => Ok(n),
        _ => Err(Error::input(format!(
            "invalid --affinity-timeout {spec:?}: give seconds in 1-{MAX_AFFINITY_TIMEOUT}"
        ))),
    }
}

/// A whole service before it is recorded: at least one port, no port given
/// twice, no node port twice, the VIP inside `range`, a backend port only on
/// a one-port service.
pub fn check_service(s: &Service, backends: &[Backend], range: &Ipv4Net) -> Result<()> {
    let bad = |what: String| Error::input(format!("service {}: {what}", s.name));
    super::validate_name("service", &s.name)?;
    if s.ports.is_empty() {
        return Err(bad(
            "no port given; add --port PORT[:TARGETPORT][/PROTO]".into()
        ));
    }
    if !range.contains(&s.vip) || s.vip == range.network() || s.vip == range.broadcast() {
        return Err(bad(format!(
            "--vip {} is not a host address of the service range {range}; pick one inside it",
            s.vip
        )));
    }
    for (i, p) in s.ports.iter().enumerate() {
        for q in &s.ports[..i] {
            if (p.port, p.proto) == (q.port, q.proto) {
                return Err(bad(format!(
                    "port {}/{} is given twice; give it once",
                    p.port, p.proto
                )));
            }
            if p.node_port.is_some() && (p.node_port, p.proto) == (q.node_port, q.proto) {
                return Err(bad(format!(
                    "node port {}/{} is used twice",
                    p.node_port.unwrap_or(0),
                    p.proto
                )));
            }
        }
    }
    if s.ports.len() > 1 && backends.iter().any(|b| b.port.is_some()) {
        return Err(bad(
            "a backend port (NAME:PORT) needs a service with one --port; use TARGETPORT in --port instead".into(),
        ));
    }
    if let Some(t) = s.affinity_timeout {
        if t == 0 || t > MAX_AFFINITY_TIMEOUT {
            return Err(bad(format!(
                "affinity timeout {t} s is outside 1-{MAX_AFFINITY_TIMEOUT}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = parse_service_port("80:8080/tcp").unwrap();
        assert_eq!((p.port, p.target_port, p.proto), (80, 8080, Proto::Tcp));
        let p = parse_service_port("53/udp").unwrap();
        assert_eq!((p.port, p.target_port, p.proto), (53, 53, Proto::Udp));
        let p = parse_service_port("443").unwrap();
        assert_eq!((p.port, p.target_port, p.proto), (443, 443, Proto::Tcp));
        for bad in [
            "", "0", "70000", "80:", ":80", "a/tcp", "80/icmp", "80-90", "1:2:3",
        ] {
            let e = parse_service_port(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().starts_with("invalid --port"), "{e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn node_ports() {
        let mut ps = vec![
            parse_service_port("80").unwrap(),
            parse_service_port("53/udp").unwrap(),
            parse_service_port("443").unwrap(),
        ];
        with_node_port(&mut ps, 30080, &NODE_PORT_RANGE).unwrap();
        let got: Vec<_> = ps.iter().map(|p| p.node_port).collect();
        assert_eq!(got, [Some(30080), Some(30080), Some(30081)]);
        assert!(with_node_port(&mut ps, 8080, &NODE_PORT_RANGE).is_err());
        assert!(with_node_port(&mut ps, 32767, &NODE_PORT_RANGE).is_err());
    }

    #[test]
    fn selectors() {
        let s = parse_selector("app=web,tier=x").unwrap();
        assert_eq!(s["app"], "web");
        assert_eq!(s["tier"], "x");
        for bad in ["", "app", "=web", "app=", "a=b,a=c", "a b=c"] {
            let e = parse_selector(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid --selector"), "{e}");
        }
    }

    #[test]
    fn range_is_clear_of_network_pools() {
        let r = default_service_range();
        assert_eq!(r.to_string(), "10.43.0.0/16");
        for pool in [
            "10.88.0.0/13",
            "10.96.0.0/11",
            "10.128.0.0/9",
            "172.16.0.0/12",
        ] {
            let p: Ipv4Net = pool.parse().unwrap();
            assert!(
                !p.contains(&r.network()) && !r.contains(&p.network()),
                "{pool}"
            );
        }
    }

    #[test]
    fn whole_service() {
        let r = default_service_range();
        let mut s = Service {
            name: "web".into(),
            vip: "10.43.0.10".parse().unwrap(),
            ports: vec![parse_service_port("80:8080").unwrap()],
            affinity_timeout: None,
        };
        let b = [Backend {
            ip: "10.88.0.2".parse().unwrap(),
            port: Some(9090),
        }];
        check_service(&s, &b, &r).unwrap();
        s.vip = "10.44.0.1".parse().unwrap();
        assert!(check_service(&s, &b, &r).is_err());
        s.vip = "10.43.0.10".parse().unwrap();
        s.ports.push(parse_service_port("53/udp").unwrap());
        assert!(check_service(&s, &b, &r).is_err());
        s.ports.push(parse_service_port("80:9000").unwrap());
        assert!(check_service(&s, &[], &r)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert_eq!(
            parse_backend("web1:8080").unwrap(),
            ("web1".into(), Some(8080))
        );
        assert!(parse_backend("web1:x").is_err());
        assert!(parse_affinity_timeout("0").is_err());
        assert_eq!(parse_affinity_timeout("10800").unwrap(), 10800);
    }
}
