//! Choosing a network's subnet: private ranges that collide with nothing already routed.

use crate::model::field::SUBNET;
use crate::model::{Error, Result};
use ipnet::Ipv4Net;

/// The pools auto-picked subnets come from, in order: RFC 1918 space, /16 each so a network can
/// hold thousands of containers. 10.88-10.255 first (podman's habit), then 172.16-31.
pub fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let tens = (88u8..=255).map(|b| Ipv4Net::new([10, b, 0, 0].into(), 16).unwrap());
    let one72 = (16u8..=31).map(|b| Ipv4Net::new([172, b, 0, 0].into(), 16).unwrap());
    tens.chain(one72)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First pool subnet overlapping none of `taken` (other networks' subnets and host routes).
pub fn pick_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    default_pools()
        .find(|c| !taken.iter().any(|t| overlaps(c, t)))
        .ok_or_else(|| {
            Error::input(format!(
                "no free private subnet left in podnet's pools: give one with {SUBNET}"
            ))
        })
}

/// Check a user-given subnet against other networks and host routes.
/// `networks`: (name, subnet) of existing podnet networks; `routes`: host route destinations.
pub fn check_subnet(
    subnet: &Ipv4Net,
    networks: &[(String, Ipv4Net)],
    routes: &[Ipv4Net],
) -> Result<()> {
    if let Some(sp) = crate::model::inet::special_overlap(subnet) {
        return Err(Error::input(format!(
            "subnet {subnet} overlaps the {} range {}: {}; choose a private subnet such as 10.90.0.0/24",
            sp.what, sp.net, sp.why
        )));
    }
    if subnet.prefix_len() > 30 {
        return Err(Error::input(format!(
            "subnet {subnet} is too small: use a prefix of /30 or shorter (room for a gateway and a container)"
        )));
    }
    if subnet.network() != subnet.addr() {
        return Err(Error::input(format!(
            "subnet {subnet} has host bits set: did you mean {}?",
            subnet.trunc()
        )));
    }
    if let Some((name, net)) = networks.iter().find(|(_, n)| overlaps(subnet, n)) {
        return Err(Error::input(format!(
            "subnet {subnet} overlaps network '{name}' ({net}): choose a subnet that does not"
        )));
    }
    if let Some(r) = routes.iter().find(|r| overlaps(subnet, r)) {
        return Err(Error::input(format!(
            "subnet {subnet} overlaps the host route to {r}: choose a subnet the host does not already reach"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn picks_first_free_pool_range() {
        assert_eq!(pick_subnet(&[]).unwrap(), n("10.88.0.0/16"));
        assert_eq!(
            pick_subnet(&[n("10.88.5.0/24")]).unwrap(),
            n("10.89.0.0/16")
        );
        // A broad host route (10/8) pushes the choice into 172.16/12.
        assert_eq!(pick_subnet(&[n("10.0.0.0/8")]).unwrap(), n("172.16.0.0/16"));
    }

    #[test]
    fn user_subnet_checks() {
        let nets = vec![("web".to_string(), n("10.90.0.0/24"))];
        let routes = vec![n("192.168.1.0/24")];
        check_subnet(&n("10.91.0.0/24"), &nets, &routes).unwrap();
        let e = check_subnet(&n("10.90.0.0/16"), &nets, &routes).unwrap_err();
        assert!(e.to_string().contains("overlaps network 'web'"), "{e}");
        let e = check_subnet(&n("192.168.0.0/16"), &nets, &routes).unwrap_err();
        assert!(e.to_string().contains("host route"), "{e}");
        assert!(check_subnet(&n("10.1.0.1/24"), &nets, &routes).is_err());
        assert!(check_subnet(&n("10.1.0.0/31"), &nets, &routes).is_err());
        let e = check_subnet(&n("127.0.0.0/8"), &nets, &routes).unwrap_err();
        assert!(e.to_string().contains("loopback range 127.0.0.0/8"), "{e}");
    }
}
