//! IPv6 address management, pure: the host's unique local /48, a /64 per network from the
//! pool, and an endpoint's address inside a subnet (round-robin from a hint, as for IPv4).

use crate::model::field::SUBNET;
use crate::model::{Error, Result};
use ipnet::Ipv6Net;
use std::net::Ipv6Addr;

/// The prefix length of a network's subnet picked from a pool: a /64, the size SLAAC,
/// privacy extensions and every peer expect.
pub const NETWORK_PREFIX6: u8 = 64;

/// A unique local /48 (RFC 4193: fd00::/8 then a 40-bit global ID) from the 40 bits written
/// as 10 hex digits (as the store keeps them); None for anything else.
pub fn ula48_from_hex(hex: &str) -> Option<Ipv6Net> {
    if hex.len() != 10 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u64::from_str_radix(hex, 16).ok()?;
    let addr = (0xfdu128 << 120) | ((id as u128) << 80);
    Ipv6Net::new(Ipv6Addr::from(addr), 48).ok()
}

fn overlaps(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of `pool` (its /64s in order, or the pool itself when it is longer than
/// a /64) that overlaps none of `taken` (other networks' IPv6 subnets and host routes).
pub fn pick_subnet6(pool: &Ipv6Net, taken: &[Ipv6Net]) -> Result<Ipv6Net> {
    let len = pool.prefix_len().max(NETWORK_PREFIX6);
    let pool = pool.trunc();
    let mut candidates = pool.subnets(len).expect("a length at least the pool's");
    candidates
        .find(|c| !taken.iter().any(|t| overlaps(c, t)))
        .ok_or_else(|| {
            Error::input(format!(
                "no free IPv6 subnet left in the pool {pool}: give one with {SUBNET} or configure a larger pool"
            ))
        })
}

/// Check a user-given IPv6 subnet against other networks and host routes (its shape was
/// checked when it was parsed; checked again here for subnets from other front ends).
pub fn check_subnet6(
    subnet: &Ipv6Net,
    networks: &[(String, Ipv6Net)],
    routes: &[Ipv6Net],
) -> Result<()> {
    crate::model::inet6::check_shape6(SUBNET, subnet)?;
    if let Some((name, net)) = networks.iter().find(|(_, n)| overlaps(subnet, n)) {
        return Err(Error::input(format!(
            "{SUBNET} {subnet} overlaps network '{name}' ({net}): choose an IPv6 subnet that does not, or omit it to get one picked"
        )));
    }
    if let Some(r) = routes.iter().find(|r| overlaps(subnet, r)) {
        return Err(Error::input(format!(
            "{SUBNET} {subnet} overlaps the host route to {r}: choose an IPv6 subnet the host does not already reach"
        )));
    }
    Ok(())
}

/// The first address after the subnet-router anycast address (the network's own): the
/// gateway.
pub fn first_host6(subnet: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()) + 1)
}

fn host_range6(subnet: &Ipv6Net) -> (u128, u128) {
    (
        u128::from(subnet.network()) + 1,
        u128::from(subnet.broadcast()),
    )
}

/// Next free address at or after `hint`, wrapping around once (see `next_free` for IPv4:
/// same reasons). The subnet-router anycast address (the network's) is never handed out.
pub fn next_free6(
    subnet: &Ipv6Net,
    gateway: Ipv6Addr,
    hint: Option<Ipv6Addr>,
    mut is_used: impl FnMut(Ipv6Addr) -> Result<bool>,
) -> Result<Ipv6Addr> {
    let (lo, hi) = host_range6(subnet);
    let start = hint
        .map(u128::from)
        .filter(|h| (lo..=hi).contains(h))
        .unwrap_or(lo);
    for c in (start..=hi).chain(lo..start) {
        let ip = Ipv6Addr::from(c);
        if ip != gateway && !is_used(ip)? {
            return Ok(ip);
        }
    }
    Err(Error::input(format!(
        "network IPv6 subnet {subnet} has no free address left: remove a container or use a larger subnet"
    )))
}

/// Validate an explicitly requested IPv6 address (`--ip6`, a gateway) for a subnet.
pub fn check_requested6(what: &str, subnet: &Ipv6Net, ip: Ipv6Addr) -> Result<()> {
    let (lo, hi) = host_range6(subnet);
    if !(lo..=hi).contains(&u128::from(ip)) {
        return Err(Error::input(format!(
            "{what} {ip} is not a usable address of IPv6 subnet {subnet}: pick one between {} and {}",
            Ipv6Addr::from(lo),
            Ipv6Addr::from(hi)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    #[test]
    fn ula48_is_fd_and_40_bits() {
        assert_eq!(
            ula48_from_hex("0123456789").unwrap(),
            n("fd01:2345:6789::/48")
        );
        assert_eq!(
            ula48_from_hex("ffffffffff").unwrap(),
            n("fdff:ffff:ffff::/48")
        );
        for bad in ["", "12345", "0123456789a", "zz23456789"] {
            assert!(ula48_from_hex(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn picks_a_free_64_of_the_pool() {
        let pool = n("fd01:2345:6789::/48");
        assert_eq!(pick_subnet6(&pool, &[]).unwrap(), n("fd01:2345:6789::/64"));
        // Another network and a host route take the first two /64s; a broader route a /63.
        let taken = [n("fd01:2345:6789::/64"), n("fd01:2345:6789:1::/64")];
        assert_eq!(
            pick_subnet6(&pool, &taken).unwrap(),
            n("fd01:2345:6789:2::/64")
        );
        let taken = [n("fd01:2345:6789::/62")];
        assert_eq!(
            pick_subnet6(&pool, &taken).unwrap(),
            n("fd01:2345:6789:4::/64")
        );
        // A route covering the whole pool leaves nothing.
        let e = pick_subnet6(&pool, &[n("fd00::/8")]).unwrap_err();
        assert!(
            e.is_bad_input() && e.to_string().contains("no free IPv6 subnet"),
            "{e}"
        );
        // A pool longer than /64 is one subnet.
        assert_eq!(
            pick_subnet6(&n("fd00:1::/112"), &[]).unwrap(),
            n("fd00:1::/112")
        );
    }

    #[test]
    fn user_subnet6_checks() {
        let nets = vec![("web".to_string(), n("fd00:90::/64"))];
        let routes = vec![n("2001:db8::/32")];
        check_subnet6(&n("fd00:91::/64"), &nets, &routes).unwrap();
        for (bad, says) in [
            ("fd00:90::/56", "overlaps network 'web' (fd00:90::/64)"),
            ("fd00:90::/80", "overlaps network 'web'"),
            (
                "2001:db8:5::/64",
                "overlaps the host route to 2001:db8::/32",
            ),
            ("fd00:92::/121", "too small"),
            ("fe80::/64", "link-local"),
        ] {
            let e = check_subnet6(&n(bad), &nets, &routes).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn addresses_round_robin_skip_gateway_and_used() {
        let s = n("fd00:90::/120");
        let gw = first_host6(&s);
        assert_eq!(gw, "fd00:90::1".parse::<Ipv6Addr>().unwrap());
        let used = |ip: Ipv6Addr| Ok(ip == "fd00:90::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            next_free6(&s, gw, None, used).unwrap().to_string(),
            "fd00:90::3"
        );
        let hint = Some("fd00:90::ff".parse().unwrap());
        assert_eq!(
            next_free6(&s, gw, hint, used).unwrap().to_string(),
            "fd00:90::ff"
        );
        let only_5 = |ip: Ipv6Addr| Ok(ip.segments()[7] != 5);
        assert_eq!(
            next_free6(&s, gw, hint, only_5).unwrap().to_string(),
            "fd00:90::5"
        );
        assert_eq!(
            next_free6(&s, gw, None, |_| Ok(true))
                .unwrap_err()
                .exit_code(),
            2
        );
        check_requested6("--ip6", &s, "fd00:90::9".parse().unwrap()).unwrap();
        for bad in ["fd00:90::", "fd00:91::9", "fd00:90::100"] {
            let e = check_requested6("--ip6", &s, bad.parse().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with("--ip6 "), "{e}");
        }
    }
}
