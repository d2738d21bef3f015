//! The MAC address of a container's `eth0` on a bridge network.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

/// First two bytes of every container MAC: locally administered (bit 1 set), unicast
/// (bit 0 clear), and not Docker's `02:42`, so the two never look alike on one host.
pub const CONTAINER_MAC_PREFIX: [u8; 2] = [0x02, 0x50];

impl Mac {
    /// `02:50:` followed by the container's IPv4 address. Known before the veth exists, so
    /// the anti-spoofing elements go into the attach's one nftables transaction and the
    /// address into the veth's create message, with no round trip to read it back. Unique on
    /// a bridge because addresses are unique on a network.
    pub fn for_container(ip: Ipv4Addr) -> Mac {
        let [a, b, c, d] = ip.octets();
        let [p, q] = CONTAINER_MAC_PREFIX;
        Mac([p, q, a, b, c, d])
    }
}

impl FromStr for Mac {
    type Err = String;

    /// `aa:bb:cc:dd:ee:ff` (as [`Mac`] prints it).
    fn from_str(s: &str) -> Result<Mac, String> {
        let bad = || format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)");
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut out {
            let p = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        match parts.next() {
            None => Ok(Mac(out)),
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_the_address() {
        let m = Mac::for_container(Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(m.to_string(), "02:50:0a:58:00:02");
        assert_eq!(m.0[0] & 1, 0, "unicast");
        assert_eq!(m.0[0] & 2, 2, "locally administered");
        assert_eq!("02:50:0a:58:00:02".parse::<Mac>(), Ok(m));
    }

    #[test]
    fn bad_text_is_no_mac() {
        for bad in [
            "",
            "02:50:0a:58:00",
            "02:50:0a:58:00:02:03",
            "2:50:0a:58:00:02",
            "02:50:0a:58:00:zz",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad:?}");
        }
    }
}
