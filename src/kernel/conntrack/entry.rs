//! One conntrack entry as the kernel reports it, and its original tuple.

use netlink_packet_core::{DefaultNla, Nla, NLA_F_NESTED};
use netlink_packet_netfilter::conntrack::{ConntrackAttribute, IPTuple, ProtoTuple, Tuple};
use std::net::SocketAddr;

use super::flows::*;

/// One conntrack entry as podnet sees it: protocol, both tuples (ports 0 for port-less
/// protocols), plus what deleting exactly this entry needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub proto: u8,
    pub orig_src: SocketAddr,
    pub orig_dst: SocketAddr,
    pub reply_src: SocketAddr,
    pub reply_dst: SocketAddr,
    pub(super) orig: Vec<Tuple>,
    pub(super) id: Option<DefaultNla>,
    pub(super) zone: Option<DefaultNla>,
}

/// (source, destination, protocol) of a tuple; None for a tuple without addresses (neither
/// IPv4 nor IPv6) or with one of each family.
pub(super) fn endpoints(tuple: &[Tuple]) -> Option<(SocketAddr, SocketAddr, u8)> {
    let (mut src, mut dst, mut sp, mut dp, mut proto) = (None, None, 0, 0, None);
    for t in tuple {
        match t {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(ps) => {
                for p in ps {
                    match p {
                        ProtoTuple::Protocol(n) => proto = Some(u8::from(*n)),
                        ProtoTuple::SourcePort(n) => sp = *n,
                        ProtoTuple::DestinationPort(n) => dp = *n,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let (src, dst) = (src?, dst?);
    if src.is_ipv4() != dst.is_ipv4() {
        return None;
    }
    Some((SocketAddr::new(src, sp), SocketAddr::new(dst, dp), proto?))
}

impl Entry {
    pub(super) fn parse(attrs: Vec<ConntrackAttribute>) -> Option<Entry> {
        let (mut orig, mut reply, mut id, mut zone) = (None, None, None, None);
        for a in attrs {
            match a {
                ConntrackAttribute::CtaTupleOrig(t) => orig = Some(t),
                ConntrackAttribute::CtaTupleReply(t) => reply = Some(t),
                ConntrackAttribute::Other(n) if n.kind() & !NLA_F_NESTED == CTA_ID => id = Some(n),
                ConntrackAttribute::Other(n) if n.kind() & !NLA_F_NESTED == CTA_ZONE => {
                    zone = Some(n)
                }
                _ => {}
            }
        }
        let orig = orig?;
        let (orig_src, orig_dst, proto) = endpoints(&orig)?;
        let (reply_src, reply_dst, _) = endpoints(&reply?)?;
        Some(Entry {
            proto,
            orig_src,
            orig_dst,
            reply_src,
            reply_dst,
            orig,
            id,
            zone,
        })
    }
}

/// One dump's matching entries, how many entries it carried, whether it was interrupted.
pub(super) type Dump = (Vec<Entry>, usize, bool);
