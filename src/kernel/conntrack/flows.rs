//! Which flows to forget: the selection and the kernel-side filter that finds them.

use super::entry::Entry;
use crate::model::Proto;
use netlink_packet_core::{DefaultNla, Emitable, Nla, NlaBuffer, Parseable, NLA_F_NESTED};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, IPTuple, ProtoTuple, Protocol, Tuple,
};
use netlink_packet_netfilter::NetfilterProtoFamily;
use std::net::IpAddr;

/// Top-level attributes the crate leaves as `Other`.
pub(super) const CTA_ID: u16 = 12;
pub(super) const CTA_ZONE: u16 = 18;
pub(super) const CTA_FILTER: u16 = 25;
pub(super) const CTA_FILTER_ORIG_FLAGS: u16 = 1;
pub(super) const CTA_FILTER_REPLY_FLAGS: u16 = 2;
/// `CTA_FILTER_FLAG(...)` bits of `net/netfilter/nf_internals.h`.
pub(super) const F_IP_SRC: u32 = 1 << 0;
pub(super) const F_IP_DST: u32 = 1 << 1;
pub(super) const F_PROTO_NUM: u32 = 1 << 3;
pub(super) const F_PROTO_SRC_PORT: u32 = 1 << 4;
pub(super) const F_PROTO_DST_PORT: u32 = 1 << 5;

/// Entries in the namespace of the process that opens it.
pub(super) const COUNT: &str = "/proc/sys/net/netfilter/nf_conntrack_count";
/// How many times a dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is redone.
pub(super) const DUMP_RETRIES: usize = 10;
/// Deletes sent in one datagram (their acks must fit the receive buffer).
pub(super) const DELETE_BATCH: usize = 128;

/// A selection of flows of one protocol and one address family (each family is a dump of
/// its own: the kernel filters tuples only for a given family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flows {
    /// Flows sent to port `port` (original direction, destination port) on address `to`, or
    /// on any address of `to`'s family when it is unspecified (`0.0.0.0`, `::`): the flows
    /// of a host port, published or not.
    ToPort { proto: Proto, port: u16, to: IpAddr },
    /// Flows answered by `ip` (reply direction, source address), and by its port `port` when
    /// given: the flows DNAT'ed to a container or service backend, or sent to it directly.
    AnsweredBy {
        proto: Proto,
        ip: IpAddr,
        port: Option<u16>,
    },
}

impl Flows {
    fn proto(&self) -> Proto {
        match *self {
            Flows::ToPort { proto, .. } | Flows::AnsweredBy { proto, .. } => proto,
        }
    }

    /// The address the selection is about (its family is the dump's).
    fn addr(&self) -> IpAddr {
        match *self {
            Flows::ToPort { to, .. } => to,
            Flows::AnsweredBy { ip, .. } => ip,
        }
    }

    /// The netfilter family of the dump that finds these flows.
    pub(super) fn family(&self) -> NetfilterProtoFamily {
        family_of(self.addr())
    }

    /// Whether an entry is one of these flows (checked on every dump answer).
    pub fn matches(&self, e: &Entry) -> bool {
        if e.proto != self.proto().number() || e.orig_dst.is_ipv4() != self.addr().is_ipv4() {
            return false;
        }
        match *self {
            Flows::ToPort { port, to, .. } => {
                e.orig_dst.port() == port && (to.is_unspecified() || e.orig_dst.ip() == to)
            }
            Flows::AnsweredBy { ip, port, .. } => {
                e.reply_src.ip() == ip && port.is_none_or(|p| e.reply_src.port() == p)
            }
        }
    }

    /// The dump filter: `CTA_FILTER` flags plus the tuple they apply to. Raw attributes:
    /// the crate's `ConntrackAttribute::Other` drops `NLA_F_NESTED`, which the kernel's
    /// strict parsing of `CTA_FILTER` requires.
    pub(super) fn filter(&self) -> Vec<DefaultNla> {
        let proto = Protocol::from(self.proto().number());
        let (flag_attr, flags, tuple) = match *self {
            Flows::ToPort { port, to, .. } => {
                let mut t = vec![Tuple::Proto(vec![
                    ProtoTuple::Protocol(proto),
                    ProtoTuple::DestinationPort(port),
                ])];
                let mut flags = F_PROTO_NUM | F_PROTO_DST_PORT;
                if kernel_matches_addr(to) {
                    t.insert(0, Tuple::Ip(vec![IPTuple::DestinationAddress(to)]));
                    flags |= F_IP_DST;
                }
                (
                    CTA_FILTER_ORIG_FLAGS,
                    flags,
                    ConntrackAttribute::CtaTupleOrig(t),
                )
            }
            Flows::AnsweredBy { ip, port, .. } => {
                let mut p = vec![ProtoTuple::Protocol(proto)];
                let mut flags = F_PROTO_NUM;
                if let Some(port) = port {
                    p.push(ProtoTuple::SourcePort(port));
                    flags |= F_PROTO_SRC_PORT;
                }
                let mut t = vec![Tuple::Proto(p)];
                if kernel_matches_addr(ip) {
                    t.insert(0, Tuple::Ip(vec![IPTuple::SourceAddress(ip)]));
                    flags |= F_IP_SRC;
                }
                (
                    CTA_FILTER_REPLY_FLAGS,
                    flags,
                    ConntrackAttribute::CtaTupleReply(t),
                )
            }
        };
        // Flags are NLA_U32 in host byte order; the nest needs NLA_F_NESTED (strict parsing).
        let mut nest = Vec::with_capacity(8);
        nest.extend_from_slice(&8u16.to_ne_bytes());
        nest.extend_from_slice(&flag_attr.to_ne_bytes());
        nest.extend_from_slice(&flags.to_ne_bytes());
        vec![
            DefaultNla::new(CTA_FILTER | NLA_F_NESTED, nest),
            raw(&tuple),
        ]
    }
}

/// Whether the kernel's dump filter is given the address. Not for IPv6: the kernel's
/// `ctnetlink_filter_match_tuple` (Linux 5.8 to at least 6.18) tests IPv6 addresses with
/// `!ipv6_addr_cmp(..)`, which is true when they are *equal*, so an IPv6 address filter
/// returns every entry but the wanted ones (measured: `ipv6_flows_are_deleted_by_ipv6_
/// selections_only` dumped 0 entries for an exact match). IPv6 dumps are filtered by family,
/// protocol and port in the kernel and by address here ([`Flows::matches`]).
fn kernel_matches_addr(ip: IpAddr) -> bool {
    ip.is_ipv4() && !ip.is_unspecified()
}

/// The netfilter family of an address's flows.
pub(super) fn family_of(ip: IpAddr) -> NetfilterProtoFamily {
    match ip {
        IpAddr::V4(_) => NetfilterProtoFamily::IPv4,
        IpAddr::V6(_) => NetfilterProtoFamily::IPv6,
    }
}

/// An attribute as raw bytes, its type flags kept.
pub(super) fn raw(attr: &impl Nla) -> DefaultNla {
    let mut buf = vec![0u8; attr.buffer_len()];
    attr.emit(&mut buf);
    DefaultNla::parse(&NlaBuffer::new(&buf[..])).expect("an attribute we just emitted")
}
