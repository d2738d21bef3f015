//! Choosing an endpoint's address inside a subnet. The network number, the gateway and the
//! broadcast address are never handed out.

use crate::model::{Error, Result};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// The first usable host address (the default gateway).
pub fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

fn host_range(subnet: &Ipv4Net) -> (u32, u32) {
    (
        u32::from(subnet.network()) + 1,
        u32::from(subnet.broadcast()) - 1,
    )
}

/// `ip` is a host address of `subnet` (neither its network number nor its broadcast).
pub fn is_host(subnet: &Ipv4Net, ip: Ipv4Addr) -> bool {
    let (lo, hi) = host_range(subnet);
    (lo..=hi).contains(&u32::from(ip))
}

/// Next free address at or after `hint`, wrapping around once. Round-robin from a hint (rather
/// than lowest-free) keeps allocation O(1) with many leases and avoids handing a just-released
/// address straight to a new container while the old one's veth may still be dying.
pub fn next_free(
    subnet: &Ipv4Net,
    gateway: Ipv4Addr,
    hint: Option<Ipv4Addr>,
    mut is_used: impl FnMut(Ipv4Addr) -> Result<bool>,
) -> Result<Ipv4Addr> {
    let (lo, hi) = host_range(subnet);
    let start = hint
        .map(u32::from)
        .filter(|h| (lo..=hi).contains(h))
        .unwrap_or(lo);
    let candidates = (start..=hi).chain(lo..start);
    for c in candidates {
        let ip = Ipv4Addr::from(c);
        if ip != gateway && !is_used(ip)? {
            return Ok(ip);
        }
    }
    Err(Error::input(format!(
        "network subnet {subnet} has no free address left: remove a container or use a larger subnet"
    )))
}

/// Validate an explicitly requested address (`--ip` or `--gateway`) for a subnet.
pub fn check_requested(what: &str, subnet: &Ipv4Net, ip: Ipv4Addr) -> Result<()> {
    let (lo, hi) = host_range(subnet);
    if !(lo..=hi).contains(&u32::from(ip)) {
        return Err(Error::input(format!(
            "{what} {ip} is not a usable address of subnet {subnet}: pick one between {} and {}",
            Ipv4Addr::from(lo),
            Ipv4Addr::from(hi)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn skips_gateway_and_used_and_wraps() {
        let s: Ipv4Net = "10.0.0.0/29".parse().unwrap(); // hosts .1-.6
        let gw = first_host(&s);
        let used: BTreeSet<Ipv4Addr> = ["10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let f = |ip| Ok(used.contains(&ip));
        assert_eq!(
            next_free(&s, gw, None, f).unwrap(),
            "10.0.0.4".parse::<Ipv4Addr>().unwrap()
        );
        let f = |ip| Ok(used.contains(&ip));
        assert_eq!(
            next_free(&s, gw, Some("10.0.0.6".parse().unwrap()), f).unwrap(),
            "10.0.0.6".parse::<Ipv4Addr>().unwrap()
        );
        let all = |ip: Ipv4Addr| Ok(ip.octets()[3] != 5);
        assert_eq!(
            next_free(&s, gw, Some("10.0.0.6".parse().unwrap()), all).unwrap(),
            "10.0.0.5".parse::<Ipv4Addr>().unwrap()
        );
        let full = |_| Ok(true);
        assert_eq!(next_free(&s, gw, None, full).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn requested_address_must_be_a_host_of_the_subnet() {
        let s: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        check_requested("--ip", &s, "10.0.0.9".parse().unwrap()).unwrap();
        for bad in ["10.0.0.0", "10.0.0.255", "10.0.1.1"] {
            let e = check_requested("--ip", &s, bad.parse().unwrap()).unwrap_err();
            assert!(e.to_string().contains("--ip"), "{e}");
        }
    }
}
