//! Published ports: `-p [HOSTIP:]HOSTPORT[-END]:CPORT[-END][/tcp|udp|sctp]`,
//! parsed once into one [`PortMapping`] per port. Pure: no I/O.

use std::fmt;
use std::net::Ipv4Addr;

use super::error::{Error, Result};

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// IP protocol number, as `meta l4proto` sees it.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        })
    }
}

/// One published port: `host_ip:host_port/proto` → the container's `container_port`.
/// `host_ip: None` means every address of the host (`0.0.0.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMapping {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

/// Split `BODY[/tcp|udp|sctp]` (default tcp); the error says what is wrong with the protocol.
pub fn split_proto(spec: &str) -> std::result::Result<(&str, Proto), String> {
    let Some((body, p)) = spec.rsplit_once('/') else {
        return Ok((spec, Proto::Tcp));
    };
    let proto = match p.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => return Err(format!("unknown protocol {p:?}; use tcp, udp or sctp")),
    };
    Ok((body, proto))
}

const FORMAT: &str = "[[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT[-END][/tcp|udp|sctp]";

/// Which host port a [`PortRequest`] gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostPort {
    /// Exactly this one (`-p 8080:80`).
    Fixed(u16),
    /// The first free one of an inclusive range (`-p 8000-8010:80`, as Docker).
    FirstFree(u16, u16),
    /// Any free one of the kernel's ephemeral range (`-p 80`, `-p IP::80`, `-P`).
    Any,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPort::Fixed(p) => write!(f, "{p}"),
            HostPort::FirstFree(a, b) => write!(f, "{a}-{b}"),
            HostPort::Any => Ok(()),
        }
    }
}

/// One container port to publish, before its host port is chosen (the engine picks free
/// ones inside the allocation transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRequest {
    pub host_ip: Option<Ipv4Addr>,
    pub host: HostPort,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortRequest {
    /// The mapping, when the host port is given exactly.
    pub fn fixed(&self) -> Option<PortMapping> {
        match self.host {
            HostPort::Fixed(p) => Some(self.with_host_port(p)),
            _ => None,
        }
    }

    /// The mapping once `host_port` is chosen.
    pub fn with_host_port(&self, host_port: u16) -> PortMapping {
        PortMapping {
            host_ip: self.host_ip,
            host_port,
            container_port: self.container_port,
            proto: self.proto,
        }
    }
}

impl From<PortMapping> for PortRequest {
    fn from(m: PortMapping) -> Self {
        PortRequest {
            host_ip: m.host_ip,
            host: HostPort::Fixed(m.host_port),
            container_port: m.container_port,
            proto: m.proto,
        }
    }
}

/// A `-p HOSTIP`: canonical dotted-quad and an address a host can own. `0.0.0.0` (every
/// address) becomes None.
fn host_address(ip: &str, bad: &dyn Fn(&str) -> Error) -> Result<Option<Ipv4Addr>> {
    let addr = super::inet::dotted_quad(ip, "127.0.0.1").map_err(|why| {
        bad(&format!(
            "host address {ip:?} is not an IPv4 address: {why}, or leave it out"
        ))
    })?;
    if addr.is_unspecified() {
        return Ok(None);
    }
    // Loopback and link-local addresses are the host's own and fine to publish on.
    if let Some(sp) =
        super::inet::special_of(addr).filter(|s| !matches!(s.what, "loopback" | "link-local"))
    {
        return Err(bad(&format!(
            "host address {addr} is {} ({}): {}; give an address of this host or leave it out",
            sp.what, sp.net, sp.why
        )));
    }
    Ok(Some(addr))
}

/// `-p [[HOSTIP:][HOSTPORT[-END]]:]CPORT[-END][/tcp|udp|sctp]` → one request per container
/// port (default protocol tcp; no host ip or `0.0.0.0` = every address). Like Docker: no host
/// port (`-p 80`, `-p IP::80`) asks for a free one per container port; a host range with one
/// container port (`-p 8000-8010:80`) asks for the first free one of the range.
/// Errors are [`Error::Input`] with a one-line message naming the spec and what to do.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>> {
    let bad = |what: &str| Error::input(format!("invalid -p {spec:?}: {what}"));
    if spec.is_empty() || spec.chars().any(char::is_whitespace) {
        return Err(bad(&format!("expected {FORMAT}")));
    }
    let (body, proto) = split_proto(spec).map_err(|w| bad(&w))?;
    if body.starts_with('[') || body.matches(':').count() > 2 {
        return Err(bad(
            "IPv6 host addresses are not supported yet; give an IPv4 address or none",
        ));
    }
    let parts: Vec<&str> = body.split(':').collect();
    let (host_ip, host, cont) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (host_address(ip, &bad)?, *h, *c),
        _ => unreachable!("at most two colons"),
    };
    let (c0, c1) = range(cont, "container", FORMAT, &bad)?;
    let request = |host, c: u32| PortRequest {
        host_ip,
        host,
        container_port: c as u16,
        proto,
    };
    if host.is_empty() {
        return Ok((c0..=c1).map(|c| request(HostPort::Any, c)).collect());
    }
    let (h0, h1) = range(host, "host", FORMAT, &bad)?;
    if c0 == c1 && h1 > h0 {
        return Ok(vec![request(HostPort::FirstFree(h0 as u16, h1 as u16), c0)]);
    }
    if h1 - h0 != c1 - c0 {
        return Err(bad(&format!(
            "host range has {} ports but container range has {}; make them the same length, or give one container port",
            h1 - h0 + 1,
            c1 - c0 + 1
        )));
    }
    Ok((0..=h1 - h0)
        .map(|i| request(HostPort::Fixed((h0 + i) as u16), c0 + i))
        .collect())
}

/// `--expose PORT[-END][/tcp|udp|sctp]`: ports `-P` publishes on free host ports.
pub fn parse_expose(spec: &str) -> Result<Vec<PortRequest>> {
    let bad = |what: &str| Error::input(format!("invalid --expose {spec:?}: {what}"));
    let (body, proto) = split_proto(spec).map_err(|w| bad(&w))?;
    if body.contains(':') {
        return Err(bad(
            "expected PORT[-END][/tcp|udp|sctp]; to choose the host port use -p HOSTPORT:PORT",
        ));
    }
    let (c0, c1) = range(body, "container", "PORT[-END][/tcp|udp|sctp]", &bad)?;
    Ok((c0..=c1)
        .map(|c| PortRequest {
            host_ip: None,
            host: HostPort::Any,
            container_port: c as u16,
            proto,
        })
        .collect())
}

/// `-P`: every `--expose`d port that no `-p` already publishes goes on a free host port of
/// every address (as Docker's `-P` does with an image's exposed ports).
pub fn publish_exposed(
    mut explicit: Vec<PortRequest>,
    exposed: &[PortRequest],
) -> Vec<PortRequest> {
    for e in exposed {
        let covered = explicit
            .iter()
            .any(|p| p.container_port == e.container_port && p.proto == e.proto);
        if !covered {
            explicit.push(*e);
        }
    }
    explicit
}

/// `P` or `P-END`, inclusive, each in 1..=65535.
fn range(s: &str, side: &str, format: &str, bad: &dyn Fn(&str) -> Error) -> Result<(u32, u32)> {
    let port = |p: &str| -> Result<u32> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!(
                "{side} port {p:?} is not a number; expected {format}"
            )));
        }
        match p.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(n),
            _ => Err(bad(&format!(
                "{side} port {p} is out of range; use 1-65535"
            ))),
        }
    };
    match s.split_once('-') {
        None => port(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if b < a {
                return Err(bad(&format!(
                    "{side} range {a}-{b} is reversed; write {b}-{a}"
                )));
            }
            Ok((a, b))
        }
    }
}
