//! What differs between the IPv4 table `ip podnet-svc` and its IPv6 twin `ip6 podnet-svc`:
//! the table family, the address type and the selectors that load addresses, and the ICMP
//! code of "port unreachable". Everything else (maps, chains, rules) is the same layout,
//! built once by functions generic over the address type.

use std::fmt::Debug;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kernel::nft::{DataType, Family, Sel, Value};

/// An address family of services: `Ipv4Addr` or `Ipv6Addr`.
pub trait SvcAddr: Copy + Ord + Hash + Debug + 'static {
    /// The table family (`ip` / `ip6`).
    const FAMILY: Family;
    /// The address type of map keys and values.
    const ADDR: DataType;
    /// `ip saddr` / `ip6 saddr`.
    const SADDR: Sel;
    /// `ip daddr` / `ip6 daddr`.
    const DADDR: Sel;
    /// `ct original ip daddr` / `ct original ip6 daddr`.
    const CT_ORIG_DADDR: Sel;
    /// `reject` with port unreachable: ICMP type 3 code 3 / ICMPv6 type 1 code 4.
    const PORT_UNREACHABLE: u8;

    fn value(self) -> Value;
}

impl SvcAddr for Ipv4Addr {
    const FAMILY: Family = Family::Ip;
    const ADDR: DataType = DataType::Ipv4Addr;
    const SADDR: Sel = Sel::IpSaddr;
    const DADDR: Sel = Sel::IpDaddr;
    const CT_ORIG_DADDR: Sel = Sel::CtOrigIpDaddr;
    const PORT_UNREACHABLE: u8 = 3;

    fn value(self) -> Value {
        Value::Ipv4(self)
    }
}

impl SvcAddr for Ipv6Addr {
    const FAMILY: Family = Family::Ip6;
    const ADDR: DataType = DataType::Ipv6Addr;
    const SADDR: Sel = Sel::Ip6Saddr;
    const DADDR: Sel = Sel::Ip6Daddr;
    const CT_ORIG_DADDR: Sel = Sel::CtOrigIp6Daddr;
    const PORT_UNREACHABLE: u8 = 4;

    fn value(self) -> Value {
        Value::Ipv6(self)
    }
}
