//! What differs between an IPv4 table and its IPv6 twin (`ip podnet` / `ip6 podnet`,
//! `ip podnet-svc` / `ip6 podnet-svc`, the IPv4 and IPv6 rules of `bridge podnet`): the table
//! family, the address type and the selectors that load addresses, the loopback range, the
//! ethertype and the ICMP code of "port unreachable". Everything else is one layout, built
//! once by functions generic over the address type.

use std::fmt::Debug;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kernel::nft::{DataType, Family, Sel, Stmt, Value};

/// An address family: `Ipv4Addr` or `Ipv6Addr`.
pub trait AddrFamily: Copy + Ord + Hash + Debug + 'static {
    /// The table family (`ip` / `ip6`).
    const FAMILY: Family;
    /// The address type of set and map keys and values.
    const ADDR: DataType;
    /// `ip saddr` / `ip6 saddr`.
    const SADDR: Sel;
    /// `ip daddr` / `ip6 daddr`.
    const DADDR: Sel;
    /// `ct original ip daddr` / `ct original ip6 daddr`.
    const CT_ORIG_DADDR: Sel;
    /// `reject` with port unreachable: ICMP type 3 code 3 / ICMPv6 type 1 code 4.
    const PORT_UNREACHABLE: u8;
    /// The ethertype `meta protocol` compares with in the bridge family.
    const ETHERTYPE: u16;

    fn value(self) -> Value;

    /// `sel` is in the loopback range: `127.0.0.0/8` / `::1`.
    fn loopback(sel: Sel) -> Stmt;
}

impl AddrFamily for Ipv4Addr {
    const FAMILY: Family = Family::Ip;
    const ADDR: DataType = DataType::Ipv4Addr;
    const SADDR: Sel = Sel::IpSaddr;
    const DADDR: Sel = Sel::IpDaddr;
    const CT_ORIG_DADDR: Sel = Sel::CtOrigIpDaddr;
    const PORT_UNREACHABLE: u8 = 3;
    const ETHERTYPE: u16 = 0x0800;

    fn value(self) -> Value {
        Value::Ipv4(self)
    }

    fn loopback(sel: Sel) -> Stmt {
        Stmt::Prefix {
            sel,
            addr: Ipv4Addr::new(127, 0, 0, 0),
            len: 8,
            negate: false,
        }
    }
}

impl AddrFamily for Ipv6Addr {
    const FAMILY: Family = Family::Ip6;
    const ADDR: DataType = DataType::Ipv6Addr;
    const SADDR: Sel = Sel::Ip6Saddr;
    const DADDR: Sel = Sel::Ip6Daddr;
    const CT_ORIG_DADDR: Sel = Sel::CtOrigIp6Daddr;
    const PORT_UNREACHABLE: u8 = 4;
    const ETHERTYPE: u16 = 0x86dd;

    fn value(self) -> Value {
        Value::Ipv6(self)
    }

    fn loopback(sel: Sel) -> Stmt {
        Stmt::Prefix6 {
            sel,
            addr: Ipv6Addr::LOCALHOST,
            len: 128,
            negate: false,
        }
    }
}

/// Whether `A` is IPv6: for the few rules only one family has.
pub fn is_v6<A: AddrFamily>() -> bool {
    A::FAMILY == Family::Ip6
}
