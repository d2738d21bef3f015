//! How the store writes addresses, for IPv4 and IPv6 alike (see
//! docs/decisions/2026-12-01-engine-seam.md):
//! - canonical text (`IpAddr`'s Display: dotted IPv4, RFC 5952 IPv6) where only equality
//!   counts: leases (unique per network), endpoints' addresses, the allocation hint, ports'
//!   host addresses, VIPs;
//! - a 16-byte big-endian key (IPv6, IPv4 as `::ffff:a.b.c.d`) where order counts: SQLite
//!   compares BLOBs byte by byte, so `max()`/`BETWEEN` over keys follow the addresses' order
//!   (the VIP allocation's "after the highest in use").

use std::net::{IpAddr, Ipv6Addr};

/// The ordered key of an address.
pub fn key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address of a key (IPv4-mapped keys give IPv4 back); None for a key of another length.
pub fn from_key(k: &[u8]) -> Option<IpAddr> {
    let b: [u8; 16] = k.try_into().ok()?;
    Some(Ipv6Addr::from(b).to_canonical())
}

/// The address right after `ip` in its family, if any.
pub fn next(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_addresses_and_round_trip() {
        let addrs: Vec<IpAddr> = ["10.43.0.9", "10.43.0.10", "10.43.1.0", "::1", "fd00::2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut v4: Vec<_> = addrs[..3].to_vec();
        v4.sort_by_key(|a| key(*a));
        assert_eq!(v4, addrs[..3]);
        for a in &addrs {
            assert_eq!(from_key(&key(*a)), Some(*a));
        }
        assert_eq!(from_key(&[1, 2, 3]), None);
        assert_eq!(
            next("10.43.0.255".parse().unwrap()),
            Some("10.43.1.0".parse().unwrap())
        );
        assert_eq!(next("255.255.255.255".parse().unwrap()), None);
        assert_eq!(
            next("fd00::ffff".parse().unwrap()),
            Some("fd00::1:0".parse().unwrap())
        );
    }
}
