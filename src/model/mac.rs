//! Hardware (MAC) addresses as runtimes send them: six hex octets separated by ':' or '-';
//! and the one podnet gives a container's `eth0` on a bridge network. Pure: no I/O.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An Ethernet address a container interface may be given: unicast (a multicast source
/// address is refused by every peer) and not all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

/// First two bytes of every container MAC podnet chooses: locally administered (bit 1 set),
/// unicast (bit 0 clear), and not Docker's `02:42`, so the two never look alike on one host.
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

    /// The error says what is wrong, without the input (callers name the field and value).
    fn from_str(s: &str) -> Result<Mac, String> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != 6 {
            return Err("expected six hex octets like 02:42:ac:11:00:02".into());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(&parts) {
            if p.len() != 2 {
                return Err("expected six hex octets like 02:42:ac:11:00:02".into());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| format!("'{p}' is not a hex octet"))?;
        }
        if out[0] & 1 == 1 {
            return Err("it is a multicast address: the first octet must be even".into());
        }
        if out == [0; 6] {
            return Err("it is all zeros".into());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_mac_is_derived_from_its_address() {
        let m = Mac::for_container(Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(m.to_string(), "02:50:0a:58:00:02");
        assert_eq!(m.0[0] & 1, 0, "unicast");
        assert_eq!(m.0[0] & 2, 2, "locally administered");
        assert_eq!("02:50:0a:58:00:02".parse::<Mac>(), Ok(m));
    }

    #[test]
    fn parses_colon_and_dash_forms_and_prints_lowercase_colons() {
        for s in [
            "02:42:AC:11:00:02",
            "02-42-ac-11-00-02",
            "02:42:ac:11:00:02",
        ] {
            assert_eq!(s.parse::<Mac>().unwrap().to_string(), "02:42:ac:11:00:02");
        }
    }

    #[test]
    fn refuses_malformed_multicast_and_zero_addresses() {
        for s in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "02:42:ac:11:00:0g",
            "02:42-ac:11:00:02",
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
        ] {
            assert!(s.parse::<Mac>().is_err(), "{s:?} was accepted");
        }
    }
}
