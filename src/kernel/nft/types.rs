//! Value types shared by the data model, the rule renderer and the encoder.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol numbers as `meta l4proto` sees them.
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

/// Table family (the `nfgenmsg.nfgen_family` of every message about the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
    Bridge,
    /// Per-device hooks (`ingress`).
    Netdev,
}

impl Family {
    pub fn nfproto(self) -> u8 {
        match self {
            Family::Inet => 1,
            Family::Ip => 2,
            Family::Netdev => 5,
            Family::Ip6 => 10,
            Family::Bridge => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
            Family::Bridge => "bridge",
            Family::Netdev => "netdev",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
    /// The netdev family's `ingress` hook of one device (`NF_NETDEV_INGRESS`).
    Ingress,
}

impl Hook {
    /// `NF_INET_*` hook number (`NF_NETDEV_INGRESS` for [`Hook::Ingress`]).
    pub fn number(self) -> u32 {
        match self {
            Hook::Ingress => 0,
            Hook::Prerouting => 0,
            Hook::Input => 1,
            Hook::Forward => 2,
            Hook::Output => 3,
            Hook::Postrouting => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

impl ChainType {
    pub fn name(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    /// `NF_ACCEPT` / `NF_DROP`.
    pub fn code(self) -> u32 {
        match self {
            Policy::Drop => 0,
            Policy::Accept => 1,
        }
    }
}

/// A verdict, as an immediate statement or as the data of a verdict-map element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

impl Verdict {
    /// Kernel verdict code (`NF_*` or the negative `NFT_*` codes as u32).
    pub fn code(&self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Continue => -1i32 as u32,
            Verdict::Jump(_) => -3i32 as u32,
            Verdict::Goto(_) => -4i32 as u32,
            Verdict::Return => -5i32 as u32,
        }
    }

    pub fn chain(&self) -> Option<&str> {
        match self {
            Verdict::Jump(c) | Verdict::Goto(c) => Some(c),
            _ => None,
        }
    }
}

/// nft datatype of one field of a set key or map value. The type id is what
/// `nft list` uses to print the set's `type` line, so it must match nft's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Ipv4Addr,
    Ipv6Addr,
    InetProto,
    InetService,
    Mark,
    IfName,
    /// A MAC address (`ether_addr`).
    EtherAddr,
}

/// `NFT_DATA_VERDICT`: the data type of a verdict map.
pub const DATA_VERDICT: u32 = 0xffff_ff00;

impl DataType {
    pub fn type_id(self) -> u32 {
        match self {
            DataType::Ipv4Addr => 7,
            DataType::Ipv6Addr => 8,
            DataType::InetProto => 12,
            DataType::InetService => 13,
            DataType::Mark => 19,
            DataType::IfName => 41,
            DataType::EtherAddr => 9,
        }
    }

    /// Length in bytes before concatenation padding.
    pub fn byte_len(self) -> u32 {
        match self {
            DataType::Ipv4Addr | DataType::Mark => 4,
            DataType::Ipv6Addr | DataType::IfName => 16,
            DataType::InetProto => 1,
            DataType::InetService => 2,
            DataType::EtherAddr => 6,
        }
    }
}

/// nft encodes a concatenation's type as the field type ids, 6 bits each.
pub fn concat_type(fields: &[DataType]) -> u32 {
    fields.iter().fold(0, |acc, f| (acc << 6) | f.type_id())
}

/// Key length in bytes: concatenated fields are each padded to 32 bits.
pub fn concat_len(fields: &[DataType]) -> u32 {
    match fields {
        [one] => one.byte_len(),
        many => many.iter().map(|f| f.byte_len().div_ceil(4) * 4).sum(),
    }
}

/// One field of an element key or map value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Proto(u8),
    /// Port, sent in network byte order.
    Port(u16),
    /// Packet mark or numgen slot, sent in host byte order (that is how the
    /// kernel's meta/numgen expressions write the register).
    Mark(u32),
    IfName(String),
    /// A MAC address, as on the wire.
    Ether([u8; 6]),
}

impl Value {
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Ipv4(_) => DataType::Ipv4Addr,
            Value::Ipv6(_) => DataType::Ipv6Addr,
            Value::Proto(_) => DataType::InetProto,
            Value::Port(_) => DataType::InetService,
            Value::Mark(_) => DataType::Mark,
            Value::IfName(_) => DataType::IfName,
            Value::Ether(_) => DataType::EtherAddr,
        }
    }

    /// Unpadded bytes as the kernel compares them.
    pub fn raw(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.put_raw(&mut out);
        out
    }

    /// Appends [`Value::raw`] to `out`.
    pub fn put_raw(&self, out: &mut Vec<u8>) {
        match self {
            Value::Ipv4(a) => out.extend_from_slice(&a.octets()),
            Value::Ipv6(a) => out.extend_from_slice(&a.octets()),
            Value::Proto(p) => out.push(*p),
            Value::Port(p) => out.extend_from_slice(&p.to_be_bytes()),
            Value::Mark(m) => out.extend_from_slice(&m.to_ne_bytes()),
            Value::IfName(n) => {
                let name = &n.as_bytes()[..n.len().min(16)];
                out.extend_from_slice(name);
                out.resize(out.len() + 16 - name.len(), 0);
            }
            Value::Ether(m) => out.extend_from_slice(m),
        }
    }
}

/// Bytes of a key or value: one field as is, several padded to 32 bits each.
pub fn concat(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    concat_into(values, &mut out);
    out
}

/// Appends [`concat`] of `values` to `out`.
pub fn concat_into(values: &[Value], out: &mut Vec<u8>) {
    if let [one] = values {
        return one.put_raw(out);
    }
    for v in values {
        let start = out.len();
        v.put_raw(out);
        out.resize(start + (out.len() - start).div_ceil(4) * 4, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_type_matches_nft() {
        use DataType::*;
        // Values observed in `nft --debug=mnl` for the same `type` lines.
        assert_eq!(
            concat_type(&[Ipv4Addr, Ipv4Addr, InetProto, InetService]),
            0x001c_730d
        );
        assert_eq!(
            concat_type(&[Ipv4Addr, InetProto, InetService, Mark]),
            0x001c_c353
        );
        assert_eq!(concat_type(&[Ipv4Addr, InetService]), 0x1cd);
        assert_eq!(concat_len(&[Ipv4Addr, InetProto, InetService]), 12);
        assert_eq!(concat_len(&[InetService]), 2);
        // `type ifname . ether_addr . ipv4_addr`: the MAC is padded to 8 bytes.
        assert_eq!(concat_type(&[IfName, EtherAddr, Ipv4Addr]), 0x29247);
        assert_eq!(concat_len(&[IfName, EtherAddr, Ipv4Addr]), 28);
    }

    #[test]
    fn concat_pads_fields() {
        let k = concat(&[
            Value::Ipv4("10.0.0.1".parse().unwrap()),
            Value::Proto(TCP),
            Value::Port(80),
        ]);
        assert_eq!(k, [10, 0, 0, 1, 6, 0, 0, 0, 0, 0x50, 0, 0]);
    }
}
