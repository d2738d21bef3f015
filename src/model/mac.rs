//! Hardware (MAC) addresses as runtimes send them: six hex octets separated by ':' or '-'.
//! Pure: no I/O.

use std::fmt;
use std::str::FromStr;

/// An Ethernet address a container interface may be given: unicast (a multicast source
/// address is refused by every peer) and not all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

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
