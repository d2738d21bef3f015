//! IPv4 addresses and CIDRs as users type them, and the ranges that can never hold a
//! container network. Pure: no I/O.
//!
//! Only canonical dotted-quad text is accepted: `inet_aton` and the tools built on it read
//! `010.1.0.0` as octal (8.1.0.0) and `10.1` as 10.0.0.1, so a form that one tool reads one way
//! and another tool the other way is refused with the reason, never guessed.

use super::error::{Error, Result};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// A range of IPv4 space that is never a container network, and why.
pub struct Special {
    pub net: Ipv4Net,
    /// What the range is, e.g. "loopback".
    pub what: &'static str,
    /// What would go wrong, said to the user.
    pub why: &'static str,
}

const fn net(a: u8, b: u8, prefix: u8) -> (Ipv4Addr, u8) {
    (Ipv4Addr::new(a, b, 0, 0), prefix)
}

const SPECIAL: [((Ipv4Addr, u8), &str, &str); 5] = [
    (
        net(0, 0, 8),
        "\"this network\"",
        "its addresses mean \"this host\" and are never routed",
    ),
    (
        net(127, 0, 8),
        "loopback",
        "the bridge would take a loopback address and change how the host's own loopback traffic is routed",
    ),
    (
        net(169, 254, 16),
        "link-local",
        "its addresses are never routed off a link (and hold services such as cloud metadata)",
    ),
    (
        net(224, 0, 4),
        "multicast",
        "its addresses name groups, not hosts",
    ),
    (
        net(240, 0, 4),
        "reserved",
        "it is reserved for future use and holds the broadcast address 255.255.255.255; hosts drop it",
    ),
];

/// The special ranges, in the order they are checked.
pub fn special_ranges() -> impl Iterator<Item = Special> {
    SPECIAL.iter().map(|((a, p), what, why)| Special {
        net: Ipv4Net::new(*a, *p).expect("valid prefix"),
        what,
        why,
    })
}

/// The first special range `subnet` overlaps, if any.
pub fn special_overlap(subnet: &Ipv4Net) -> Option<Special> {
    special_ranges()
        .find(|s| s.net.contains(&subnet.network()) || subnet.contains(&s.net.network()))
}

/// The special range holding `ip`, if any.
pub fn special_of(ip: Ipv4Addr) -> Option<Special> {
    special_ranges().find(|s| s.net.contains(&ip))
}

/// Why `text` is not canonical dotted-quad, or the address. `like` is an example of the
/// whole form the flag wants.
pub fn dotted_quad(text: &str, like: &str) -> std::result::Result<Ipv4Addr, String> {
    if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') || text.is_empty() {
        return Err(format!("write it like {like}"));
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return Err(format!("write all four parts, like {like}"));
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("part {p:?} is not a decimal number from 0 to 255"));
        }
        if p.len() > 1 && p.starts_with('0') {
            return Err(format!(
                "part {p:?} has a leading zero, which some tools read as octal: write it without leading zeros"
            ));
        }
        *o = p
            .parse()
            .map_err(|_| format!("part {p} is larger than 255"))?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// An IPv4 address given for `flag`, in canonical dotted-quad form.
pub fn parse_ipv4(flag: &str, text: &str) -> Result<Ipv4Addr> {
    dotted_quad(text, "10.90.0.5")
        .map_err(|why| Error::input(format!("{flag} '{text}' is not an IPv4 address: {why}")))
}

/// An IPv4 CIDR given for `flag`, in canonical `A.B.C.D/N` form.
pub fn parse_cidr(flag: &str, text: &str) -> Result<Ipv4Net> {
    let bad = |why: String| Error::input(format!("{flag} '{text}' is not an IPv4 CIDR: {why}"));
    const LIKE: &str = "10.90.0.0/24";
    let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
    let addr = dotted_quad(addr, LIKE).map_err(&bad)?;
    if !text.contains('/') {
        return Err(bad(format!("give the prefix length too, like {LIKE}")));
    }
    let len_ok = !prefix.is_empty()
        && prefix.len() <= 2
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && !(prefix.len() > 1 && prefix.starts_with('0'));
    let len: u8 = match prefix.parse() {
        Ok(n @ 0..=32) if len_ok => n,
        _ => {
            return Err(bad(format!(
                "prefix length {prefix:?} is not a number from 0 to 32"
            )))
        }
    };
    Ok(Ipv4Net::new(addr, len).expect("prefix checked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_only() {
        assert_eq!(
            parse_cidr("--subnet", "10.1.0.0/24").unwrap().to_string(),
            "10.1.0.0/24"
        );
        assert_eq!(
            parse_ipv4("--ip", "0.0.0.0").unwrap(),
            Ipv4Addr::UNSPECIFIED
        );
        for (bad, why) in [
            ("010.1.0.0/24", "leading zero"),
            ("10.1.0.0/024", "prefix length"),
            ("10.1/16", "four parts"),
            ("0x0a.1.0.0/24", "not a decimal"),
            ("10.1.0.256/24", "larger than 255"),
            ("10.1.0.0", "prefix length too"),
            ("10.1.0.0/33", "0 to 32"),
            ("10.1.0.0/+8", "0 to 32"),
            (" 10.1.0.0/24", "write it like 10.90.0.0/24"),
            ("banana", "write all four parts"),
            ("ba-na", "write it like"),
        ] {
            let e = parse_cidr("--subnet", bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.starts_with(&format!("--subnet '{bad}'")), "{e}");
        }
    }

    #[test]
    fn special_ranges_by_overlap() {
        let n = |s: &str| s.parse::<Ipv4Net>().unwrap();
        assert_eq!(
            special_overlap(&n("127.5.0.0/16")).unwrap().what,
            "loopback"
        );
        assert_eq!(
            special_overlap(&n("0.0.0.0/0")).unwrap().what,
            "\"this network\""
        );
        assert_eq!(
            special_overlap(&n("128.0.0.0/1")).unwrap().what,
            "link-local"
        );
        assert_eq!(
            special_overlap(&n("239.1.0.0/16")).unwrap().what,
            "multicast"
        );
        assert_eq!(
            special_overlap(&n("255.255.255.0/24")).unwrap().what,
            "reserved"
        );
        assert!(special_overlap(&n("10.0.0.0/8")).is_none());
        assert!(special_overlap(&n("223.255.255.0/24")).is_none());
        assert!(special_of("169.254.169.254".parse().unwrap()).is_some());
    }
}
