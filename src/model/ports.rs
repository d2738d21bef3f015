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

const FORMAT: &str = "[HOSTIP:]HOSTPORT[-END]:CONTAINERPORT[-END][/tcp|udp|sctp]";

/// `-p [HOSTIP:]HOSTPORT[-END]:CPORT[-END][/tcp|udp|sctp]` → one mapping per
/// port of a range (default protocol tcp; host ip `0.0.0.0` = all addresses).
/// Errors are [`Error::Input`] with a one-line message naming the spec and
/// what to do.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
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
        [h, c] => (None, *h, *c),
        [ip, h, c] => {
            let addr: Ipv4Addr = ip.parse().map_err(|_| {
                bad(&format!(
                    "host address {ip:?} is not an IPv4 address; give one like 127.0.0.1 or leave it out"
                ))
            })?;
            (Some(addr).filter(|a| !a.is_unspecified()), *h, *c)
        }
        _ => {
            return Err(bad(&format!(
                "missing host port; expected {FORMAT}, e.g. 8080:80"
            )))
        }
    };
    let (h0, h1) = range(host, "host", &bad)?;
    let (c0, c1) = range(cont, "container", &bad)?;
    if h1 - h0 != c1 - c0 {
        return Err(bad(&format!(
            "host range has {} ports but container range has {}; make them the same length",
            h1 - h0 + 1,
            c1 - c0 + 1
        )));
    }
    Ok((0..=h1 - h0)
        .map(|i| PortMapping {
            host_ip,
            host_port: (h0 + i) as u16,
            container_port: (c0 + i) as u16,
            proto,
        })
        .collect())
}

/// `P` or `P-END`, inclusive, each in 1..=65535.
fn range(s: &str, side: &str, bad: &dyn Fn(&str) -> Error) -> Result<(u32, u32)> {
    let port = |p: &str| -> Result<u32> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!(
                "{side} port {p:?} is not a number; expected {FORMAT}"
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
