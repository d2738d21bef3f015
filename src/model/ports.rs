//! Published ports: `-p [HOSTIP:]HOSTPORT[-END]:CPORT[-END][/tcp|udp|sctp]`,
//! parsed once into one [`PortMapping`] per port. HOSTIP is IPv4 or a bracketed IPv6
//! address (`[::1]`). Pure: no I/O.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

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
/// `host_ip: None` means every address of the host, of each family the container has;
/// `0.0.0.0` every IPv4 address only, `::` every IPv6 address only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

/// A host address as `-p` takes it: IPv6 in brackets.
pub fn host_ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

impl PortMapping {
    /// Whether `self` and `other` would catch the same packets: same port and protocol, and
    /// addresses that meet (either on every address; the same one; or one on every address
    /// of the other's family).
    pub fn overlaps(&self, other: &PortMapping) -> bool {
        self.host_port == other.host_port
            && self.proto == other.proto
            && addresses_meet(self.host_ip, other.host_ip)
    }
}

fn addresses_meet(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => {
            a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
        }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{}:", host_ip_text(ip))?;
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
    pub host_ip: Option<IpAddr>,
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

/// A `-p HOSTIP`: canonical dotted-quad and an address a host can own. `0.0.0.0` stays:
/// it restricts a dual-stack container's port to IPv4.
fn host_address(ip: &str, bad: &dyn Fn(&str) -> Error) -> Result<IpAddr> {
    let addr = super::inet::dotted_quad(ip, "127.0.0.1").map_err(|why| {
        bad(&format!(
            "host address {ip:?} is not an IPv4 address: {why}, or leave it out"
        ))
    })?;
    if addr.is_unspecified() {
        return Ok(addr.into());
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
    Ok(addr.into())
}

/// A bracketed `-p [HOSTIP6]`: an IPv6 address a host can publish on (`::` = every IPv6
/// address of the host, `::1` its loopback).
fn host_address6(text: &str, bad: &dyn Fn(&str) -> Error) -> Result<IpAddr> {
    let addr: Ipv6Addr = text.parse().map_err(|_| {
        let why = if text.contains('%') {
            "a zone (%IFACE) is not supported"
        } else if text.contains('.') && !text.contains(':') {
            "IPv4 addresses go without brackets"
        } else {
            "write it like [::1] or [2001:db8::1]"
        };
        bad(&format!(
            "host address [{text}] is not an IPv6 address: {why}"
        ))
    })?;
    let refuse = |what: &str, why: &str| {
        bad(&format!(
            "host address {addr} is {what}: {why}; give an address of this host or leave it out"
        ))
    };
    if addr.is_multicast() {
        return Err(refuse("multicast", "its addresses name groups, not hosts"));
    }
    if addr.segments()[0] & 0xffc0 == 0xfe80 {
        return Err(refuse(
            "link-local",
            "it means nothing without an interface, which -p cannot name",
        ));
    }
    if let Some(v4) = addr.to_ipv4_mapped() {
        return Err(bad(&format!(
            "host address {addr} is an IPv4-mapped IPv6 address: write {v4} without brackets"
        )));
    }
    Ok(addr.into())
}

/// Split `[IPV6]:REST` or `IPV4:…` off a `-p` body: the host address (if the body has
/// three parts) and the remaining `HOSTPORT:CPORT` parts.
fn split_host<'a>(
    body: &'a str,
    bad: &dyn Fn(&str) -> Error,
) -> Result<(Option<IpAddr>, Vec<&'a str>)> {
    if let Some(rest) = body.strip_prefix('[') {
        let Some((ip6, after)) = rest.split_once(']') else {
            return Err(bad(
                "IPv6 host address has no closing ']'; write it like [::1]:8080:80",
            ));
        };
        let Some(after) = after.strip_prefix(':') else {
            return Err(bad(&format!(
                "expected ':' after [{ip6}]; write it like [{ip6}]:8080:80"
            )));
        };
        let parts: Vec<&str> = after.split(':').collect();
        if parts.len() != 2 {
            return Err(bad(&format!("expected {FORMAT}")));
        }
        return Ok((Some(host_address6(ip6, bad)?), parts));
    }
    let parts: Vec<&str> = body.split(':').collect();
    match parts.as_slice() {
        [_] | [_, _] => Ok((None, parts)),
        [ip, h, c] => Ok((Some(host_address(ip, bad)?), vec![*h, *c])),
        _ => Err(bad(
            "an IPv6 host address goes in brackets, like [::1]:8080:80",
        )),
    }
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
    let (host_ip, parts) = split_host(body, &bad)?;
    let (host, cont) = match parts.as_slice() {
        [c] => ("", *c),
        [h, c] => (*h, *c),
        _ => unreachable!("split_host gives one or two parts"),
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
