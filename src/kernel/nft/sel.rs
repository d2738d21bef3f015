//! Selectors: the packet, metadata and conntrack fields a rule loads into
//! registers, with their sizes and nft datatypes.

use super::expr::{Expr, PayloadBase};
use super::types::DataType;

/// Something a rule can load into a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sel {
    IpSaddr,
    IpDaddr,
    /// `ip6 saddr` / `ip6 daddr`: 16 bytes at network header + 8 / + 24.
    Ip6Saddr,
    Ip6Daddr,
    /// `icmpv6 type`: the first byte of the ICMPv6 header (check `meta l4proto` first).
    Icmp6Type,
    /// The target address of an ICMPv6 Neighbor Solicitation or Advertisement
    /// (`icmpv6 taddr`, transport header + 8, 16 bytes).
    NdTarget,
    ThSport,
    ThDport,
    L4Proto,
    NfProto,
    /// `meta protocol`: the ethertype (`ip` = 0x0800), 2 bytes, network order.
    Protocol,
    /// `meta pkttype` (`PACKET_HOST` 0, broadcast 1, multicast 2, otherhost 3); 1 byte.
    PktType,
    Mark,
    Iif,
    Oif,
    IifName,
    OifName,
    /// `meta iifgroup`: the input interface's group (`ip link set DEV group N`), 4 bytes,
    /// host order; in the bridge family the bridge port's.
    IifGroup,
    CtState,
    CtStatus,
    /// `ct direction`: 0 original, 1 reply; 1 byte.
    CtDirection,
    CtMark,
    CtOrigIpDaddr,
    /// `ct original ip6 daddr`.
    CtOrigIp6Daddr,
    CtOrigProtoDst,
    /// `numgen random mod N`; host byte order.
    NumgenRandom(u32),
    /// `fib daddr type` (address type of the destination: local, ...).
    FibDaddrType,
    /// `ether saddr`: the frame's source MAC (bridge family), 6 bytes.
    EtherSaddr,
    /// `arp saddr ether`: an ARP packet's sender hardware address (for Ethernet/IPv4 ARP).
    ArpSha,
    /// `arp saddr ip`: an ARP packet's sender protocol address (for Ethernet/IPv4 ARP).
    ArpSpa,
    /// `arp htype . arp ptype . arp hlen . arp plen` as one 6-byte load, the way nft merges
    /// the four matches; equal to [`ARP_ETHERNET_IPV4`] for Ethernet/IPv4 ARP.
    ArpFormat,
}

/// The first 6 bytes of an Ethernet/IPv4 ARP header: htype 1, ptype 0x0800, hlen 6, plen 4.
pub const ARP_ETHERNET_IPV4: [u8; 6] = [0, 1, 8, 0, 6, 4];

impl Sel {
    /// The nft datatype of the loaded value, where an element of a set keyed
    /// by it has one (used for anonymous sets).
    pub fn data_type(self) -> Option<DataType> {
        Some(match self {
            Sel::IpSaddr | Sel::IpDaddr | Sel::CtOrigIpDaddr | Sel::ArpSpa => DataType::Ipv4Addr,
            Sel::Ip6Saddr | Sel::Ip6Daddr | Sel::CtOrigIp6Daddr | Sel::NdTarget => {
                DataType::Ipv6Addr
            }
            Sel::EtherSaddr | Sel::ArpSha => DataType::EtherAddr,
            Sel::ThSport | Sel::ThDport | Sel::CtOrigProtoDst => DataType::InetService,
            Sel::L4Proto => DataType::InetProto,
            Sel::Mark | Sel::CtMark | Sel::NumgenRandom(_) => DataType::Mark,
            Sel::IifName | Sel::OifName => DataType::IfName,
            _ => return None,
        })
    }

    pub fn byte_len(self) -> u32 {
        match self {
            Sel::IpSaddr | Sel::IpDaddr | Sel::ArpSpa => 4,
            Sel::Ip6Saddr | Sel::Ip6Daddr | Sel::CtOrigIp6Daddr | Sel::NdTarget => 16,
            Sel::Icmp6Type => 1,
            Sel::EtherSaddr | Sel::ArpSha | Sel::ArpFormat => 6,
            Sel::ThSport | Sel::ThDport | Sel::CtOrigProtoDst => 2,
            Sel::Protocol => 2,
            Sel::L4Proto | Sel::NfProto | Sel::CtDirection | Sel::PktType => 1,
            Sel::IifName | Sel::OifName => 16,
            _ => 4,
        }
    }

    pub(crate) fn load(self, dreg: u32) -> Expr {
        let payload = |base, offset, len| Expr::Payload {
            base,
            offset,
            len,
            dreg,
        };
        let meta = |key| Expr::Meta { key, dreg };
        let ct = |key, original| Expr::Ct {
            key,
            original,
            dreg,
        };
        match self {
            Sel::IpSaddr => payload(PayloadBase::Network, 12, 4),
            Sel::IpDaddr => payload(PayloadBase::Network, 16, 4),
            Sel::Ip6Saddr => payload(PayloadBase::Network, 8, 16),
            Sel::Ip6Daddr => payload(PayloadBase::Network, 24, 16),
            Sel::Icmp6Type => payload(PayloadBase::Transport, 0, 1),
            Sel::NdTarget => payload(PayloadBase::Transport, 8, 16),
            Sel::ThSport => payload(PayloadBase::Transport, 0, 2),
            Sel::ThDport => payload(PayloadBase::Transport, 2, 2),
            Sel::EtherSaddr => payload(PayloadBase::Link, 6, 6),
            Sel::ArpFormat => payload(PayloadBase::Network, 0, 6),
            Sel::ArpSha => payload(PayloadBase::Network, 8, 6),
            Sel::ArpSpa => payload(PayloadBase::Network, 14, 4),
            Sel::Protocol => meta(1),
            Sel::Mark => meta(3),
            Sel::Iif => meta(4),
            Sel::Oif => meta(5),
            Sel::IifName => meta(6),
            Sel::OifName => meta(7),
            Sel::NfProto => meta(15),
            Sel::L4Proto => meta(16),
            Sel::PktType => meta(19),
            Sel::IifGroup => meta(21),
            Sel::CtState => ct(0, None),
            Sel::CtDirection => ct(1, None),
            Sel::CtStatus => ct(2, None),
            Sel::CtMark => ct(3, None),
            Sel::CtOrigProtoDst => ct(12, Some(true)),
            Sel::CtOrigIpDaddr => ct(20, Some(true)),
            Sel::CtOrigIp6Daddr => ct(22, Some(true)),
            Sel::NumgenRandom(modulus) => Expr::Numgen {
                dreg,
                modulus,
                offset: 0,
            },
            Sel::FibDaddrType => Expr::Fib {
                dreg,
                result: 3,
                flags: 2,
            },
        }
    }
}

/// `ct state` bits.
pub mod ct_state {
    pub const INVALID: u32 = 1;
    pub const ESTABLISHED: u32 = 2;
    pub const RELATED: u32 = 4;
    pub const NEW: u32 = 8;
}

/// `ct status` bits.
pub mod ct_status {
    pub const SNAT: u32 = 0x10;
    pub const DNAT: u32 = 0x20;
}

/// ICMPv6 message types (`icmpv6 type`) podnet's rules name.
pub mod icmp6 {
    pub const MLD_REPORT: u8 = 131;
    pub const ND_ROUTER_SOLICIT: u8 = 133;
    pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
    pub const ND_NEIGHBOR_ADVERT: u8 = 136;
    pub const MLD2_REPORT: u8 = 143;
}

/// `meta l4proto` of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// `fib ... type` results (`RTN_*`).
pub const RTN_LOCAL: u32 = 2;
