//! IPv6 addresses and subnets as users type them, and the ranges that can never hold a
//! container network. Pure: no I/O.
//!
//! A network is dual-stack at most: its IPv6 subnet sits beside an IPv4 one. The checks here
//! are those that need nothing but the input; overlap with other networks and the host's
//! routes is `ipam::check_subnet6`'s.

use super::error::{Error, Result};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv6Addr};

/// The longest IPv6 prefix a network may have: /120 leaves 256 addresses (a gateway and
/// room for containers); a longer one is a typo more often than a plan.
pub const MAX_PREFIX6: u8 = 120;

/// A range of IPv6 space that is never a container network, and why.
pub struct Special6 {
    pub net: Ipv6Net,
    pub what: &'static str,
    pub why: &'static str,
}

const SPECIAL6: [(u128, u8, &str, &str); 5] = [
    (
        0,
        128,
        "unspecified",
        "it means \"no address\" and is never a host's",
    ),
    (1, 128, "loopback", "it is the host's own loopback address"),
    (
        0xffff_0000_0000,
        96,
        "IPv4-mapped",
        "its addresses stand for IPv4 ones inside IPv6 sockets and never appear on a wire",
    ),
    (
        0xfe80 << 112,
        10,
        "link-local",
        "its addresses exist on every link at once and are never routed",
    ),
    (
        0xff00 << 112,
        8,
        "multicast",
        "its addresses name groups, not hosts",
    ),
];

/// The special IPv6 ranges, in the order they are checked.
pub fn special6_ranges() -> impl Iterator<Item = Special6> {
    SPECIAL6.iter().map(|(a, p, what, why)| Special6 {
        net: Ipv6Net::new(Ipv6Addr::from(*a), *p).expect("valid prefix"),
        what,
        why,
    })
}

/// The first special range `subnet` overlaps, if any.
pub fn special6_overlap(subnet: &Ipv6Net) -> Option<Special6> {
    special6_ranges()
        .find(|s| s.net.contains(&subnet.network()) || subnet.contains(&s.net.network()))
}

/// The special range holding `ip`, if any.
pub fn special6_of(ip: Ipv6Addr) -> Option<Special6> {
    special6_ranges().find(|s| s.net.contains(&ip))
}

/// Why `text` is not an IPv6 address the way podnet takes it, or the address: RFC 4291 text
/// (`fd00:90::9`), without brackets, zone or embedded IPv4 part.
fn ipv6_text(text: &str) -> std::result::Result<Ipv6Addr, String> {
    if text.starts_with('[') || text.ends_with(']') {
        return Err("write it without brackets, like fd00:90::9".into());
    }
    if text.contains('%') {
        return Err("a zone (%IFACE) belongs to link-local addresses, which a network never holds: write a plain address, like fd00:90::9".into());
    }
    if !text.contains(':') {
        return Err("write it with colons, like fd00:90::9".into());
    }
    if text.contains('.') {
        return Err(
            "write it in hexadecimal groups only (no embedded IPv4 part), like fd00:90::9".into(),
        );
    }
    text.parse::<Ipv6Addr>()
        .map_err(|_| "write up to eight hexadecimal groups of 1-4 digits with at most one \"::\", like fd00:90::9".into())
}

/// An IPv6 address given for `flag` (a container's or a gateway's): a host address, so not
/// one of the special ranges.
pub fn parse_ipv6(flag: &str, text: &str) -> Result<Ipv6Addr> {
    let ip = ipv6_text(text)
        .map_err(|why| Error::input(format!("{flag} '{text}' is not an IPv6 address: {why}")))?;
    if let Some(sp) = special6_of(ip) {
        return Err(Error::input(format!(
            "{flag} {ip} is a {} address: {}; give an address of the network's IPv6 subnet, like fd00:90::9",
            sp.what, sp.why
        )));
    }
    Ok(ip)
}

/// An IPv6 subnet given for `flag`: `ADDR/N`, no host bits, not special, at most /120.
pub fn parse_cidr6(flag: &str, text: &str) -> Result<Ipv6Net> {
    let bad = |why: String| Error::input(format!("{flag} '{text}' is not an IPv6 subnet: {why}"));
    const LIKE: &str = "fd00:90::/64";
    let Some((addr, prefix)) = text.split_once('/') else {
        return Err(bad(format!("give the prefix length too, like {LIKE}")));
    };
    let addr = ipv6_text(addr).map_err(|w| bad(w.replace("fd00:90::9", LIKE)))?;
    let len_ok = !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && !(prefix.len() > 1 && prefix.starts_with('0'));
    let len: u8 = match prefix.parse() {
        Ok(n @ 0..=128) if len_ok => n,
        _ => {
            return Err(bad(format!(
                "prefix length {prefix:?} is not a number from 0 to 128"
            )))
        }
    };
    let net = Ipv6Net::new(addr, len).expect("prefix checked");
    check_shape6(flag, &net)?;
    Ok(net)
}

/// What an IPv6 subnet must be whatever else exists: not special, not too long a prefix, no
/// host bits.
pub fn check_shape6(flag: &str, net: &Ipv6Net) -> Result<()> {
    if let Some(sp) = special6_overlap(net) {
        return Err(Error::input(format!(
            "{flag} {net} overlaps the {} range {}: {}; choose a unique local subnet such as fd00:90::/64",
            sp.what, sp.net, sp.why
        )));
    }
    if net.prefix_len() > MAX_PREFIX6 {
        return Err(Error::input(format!(
            "{flag} {net} is too small: use a prefix of /{MAX_PREFIX6} or shorter (/64 is usual)"
        )));
    }
    if net.network() != net.addr() {
        return Err(Error::input(format!(
            "{flag} {net} has host bits set: did you mean {}?",
            net.trunc()
        )));
    }
    Ok(())
}

/// A `--subnet` of either family: IPv4 in canonical dotted-quad form (as before), IPv6 as
/// [`parse_cidr6`] takes it. Which family is told by a colon.
pub fn parse_subnet_any(flag: &str, text: &str) -> Result<IpNet> {
    if text.contains(':') || text.starts_with('[') {
        Ok(IpNet::V6(parse_cidr6(flag, text)?))
    } else {
        Ok(IpNet::V4(super::inet::parse_cidr(flag, text)?))
    }
}

/// A network's subnets from the `--subnet` values given: at most one IPv4 and one IPv6.
pub fn split_subnets(flag: &str, subnets: &[IpNet]) -> Result<(Option<Ipv4Net>, Option<Ipv6Net>)> {
    let (mut v4, mut v6) = (None, None);
    for s in subnets {
        match s {
            IpNet::V4(n) if v4.is_none() => v4 = Some(*n),
            IpNet::V6(n) if v6.is_none() => v6 = Some(*n),
            IpNet::V4(n) => {
                return Err(Error::input(format!(
                    "{flag} {n}: a network has one IPv4 subnet and already got {}; give one IPv4 and at most one IPv6 subnet",
                    v4.unwrap()
                )))
            }
            IpNet::V6(n) => {
                return Err(Error::input(format!(
                    "{flag} {n}: a network has at most one IPv6 subnet and already got {}; give one IPv4 and at most one IPv6 subnet",
                    v6.unwrap()
                )))
            }
        }
    }
    Ok((v4, v6))
}

/// An address of either family for `flag`, told by a colon.
pub fn parse_ip_any(flag: &str, text: &str) -> Result<IpAddr> {
    if text.contains(':') || text.starts_with('[') {
        Ok(IpAddr::V6(parse_ipv6(flag, text)?))
    } else {
        Ok(IpAddr::V4(super::inet::parse_ipv4(flag, text)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bad IPv6 input gets one line naming the input, what is wrong and what to do.
    #[test]
    fn bad_ipv6_subnets_say_what_and_what_to_do() {
        for (bad, says) in [
            ("fd00:90::/", "prefix length \"\" is not a number"),
            ("fd00:90::", "give the prefix length too"),
            ("fd00:90::/129", "from 0 to 128"),
            ("fd00:90::/064", "from 0 to 128"),
            ("fd00:90:::/64", "hexadecimal groups"),
            ("fd00:9g::/64", "hexadecimal groups"),
            ("fd00:12345::/64", "hexadecimal groups"),
            ("[fd00:90::]/64", "without brackets"),
            ("fe80::%eth0/64", "zone"),
            ("::ffff:10.0.0.0/120", "no embedded IPv4"),
            ("ff02::/64", "multicast range ff00::/8"),
            ("ff00::/8", "multicast"),
            ("fe80::/64", "link-local range fe80::/10"),
            ("::1/128", "loopback"),
            ("::/0", "unspecified"),
            ("::/128", "unspecified"),
            ("::ffff:0:0/96", "IPv4-mapped"),
            (
                "fd00:90::/121",
                "too small: use a prefix of /120 or shorter",
            ),
            ("fd00:90::/128", "too small"),
            ("fd00:90::1/64", "host bits set: did you mean fd00:90::/64?"),
        ] {
            let e = parse_cidr6("--subnet", bad).unwrap_err();
            assert!(e.is_bad_input(), "{bad}: {e}");
            let text = e.to_string();
            assert!(text.contains(says), "{bad}: {text}");
            assert!(text.starts_with("--subnet "), "{bad}: {text}");
            assert!(!text.contains('\n'), "{bad}: one line: {text}");
        }
        assert_eq!(
            parse_cidr6("--subnet", "fd00:90::/64").unwrap().to_string(),
            "fd00:90::/64"
        );
        assert_eq!(
            parse_cidr6("--subnet", "2001:db8:1::/120")
                .unwrap()
                .prefix_len(),
            120
        );
    }

    #[test]
    fn bad_ipv6_addresses_say_what_and_what_to_do() {
        for (bad, says) in [
            ("fd00:90::g", "hexadecimal groups"),
            ("10.0.0.1", "with colons"),
            ("[fd00::9]", "without brackets"),
            ("fe80::1%eth0", "zone"),
            ("ff02::1", "multicast address"),
            ("fe80::9", "link-local address"),
            ("::1", "loopback address"),
            ("::", "unspecified address"),
            ("::ffff:a00:1", "IPv4-mapped address"),
        ] {
            let e = parse_ipv6("--ip6", bad).unwrap_err();
            let text = e.to_string();
            assert!(e.is_bad_input() && text.contains(says), "{bad}: {text}");
            assert!(text.starts_with("--ip6 "), "{text}");
        }
        assert_eq!(
            parse_ipv6("--ip6", "fd00:90::9").unwrap(),
            "fd00:90::9".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn subnets_of_both_families_one_each() {
        let s = |t: &str| parse_subnet_any("--subnet", t).unwrap();
        let (v4, v6) = split_subnets("--subnet", &[s("10.90.0.0/24"), s("fd00:90::/64")]).unwrap();
        assert_eq!(v4.unwrap().to_string(), "10.90.0.0/24");
        assert_eq!(v6.unwrap().to_string(), "fd00:90::/64");
        let e = split_subnets("--subnet", &[s("fd00:90::/64"), s("fd00:91::/64")]).unwrap_err();
        assert!(e.to_string().contains("at most one IPv6 subnet"), "{e}");
        let e = split_subnets("--subnet", &[s("10.1.0.0/24"), s("10.2.0.0/24")]).unwrap_err();
        assert!(e.to_string().contains("one IPv4 subnet"), "{e}");
        assert!(parse_subnet_any("--subnet", "010.1.0.0/24").is_err());
    }
}
