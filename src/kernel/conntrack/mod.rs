//! Conntrack entries over ctnetlink (NETLINK_NETFILTER, subsystem CTNETLINK), in the network
//! namespace of the thread that opened the socket.
//!
//! What podnet needs is to *forget* flows whose NAT decision is stale: netfilter NATs a flow
//! once, on its first packet, and a UDP client that keeps its source port keeps hitting the
//! entry that packet made (un-NATed if it came before a port was published, DNAT'ed to a
//! container or backend that is gone). [`Conntrack::delete`] removes the entries of one
//! [`Flows`] selection:
//!
//! 0. nothing at all when the namespace tracks no entry (`nf_conntrack_count`, a sysctl read);
//! 1. one filtered dump (`IPCTNL_MSG_CT_GET` + `NLM_F_DUMP` with `CTA_FILTER`, Linux ≥ 5.8): the
//!    kernel walks its table and sends only the matching entries, so nothing to delete costs
//!    one round trip and no parsing (the walk itself is over the machine-wide hash table:
//!    milliseconds, whatever the number of entries). The kernel matches ports for TCP and
//!    UDP only; for SCTP it filters by protocol and the port is checked here. A kernel that
//!    refuses the filter gets a plain dump;
//! 2. every answer is checked again here (a kernel that ignored the filter must not make us
//!    delete unrelated flows);
//! 3. each match is deleted by its original tuple and id (`IPCTNL_MSG_CT_DELETE`), in batches;
//!    ENOENT (expired, or deleted by someone else meanwhile) is success.
//!
//! A dump marked `NLM_F_DUMP_INTR` is done again after its matches are deleted. A one-message
//! flush with a filter (6.18 accepts `CT_DELETE` with `CTA_FILTER` + a partial tuple) is not
//! used: same table walk, no count, and it would ignore SCTP ports (see the record).
//! Measurements: `docs/decisions/2026-11-27-conntrack-flush.md`.

mod entry;
mod flows;

pub use entry::Entry;
use entry::*;
pub use flows::Flows;
use flows::*;

use crate::model::{Error, Proto, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, ConntrackMessageType, IPTuple, ProtoTuple, Protocol,
    Tuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};
use std::net::SocketAddr;

/// The netlink peer address of the kernel.
fn kernel() -> netlink_sys::SocketAddr {
    netlink_sys::SocketAddr::new(0, 0)
}

/// What one delete round found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Entries the kernel sent (all of them when it ignored the filter).
    pub dumped: usize,
    /// Entries that matched and are gone (deleted now, or already gone).
    pub deleted: usize,
}

/// A ctnetlink socket bound to the network namespace it was opened in.
pub struct Conntrack {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
    /// The kernel refused `CTA_FILTER` once: dump everything and filter here.
    unfiltered: bool,
    /// `nf_conntrack_count` of the socket's namespace, opened with it (None: conntrack is
    /// not loaded, so there is no entry).
    count: Option<std::fs::File>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::failed(format!("conntrack {what}: {e}"))
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

impl Conntrack {
    /// Open a socket in the calling thread's current network namespace.
    pub fn open() -> Result<Conntrack> {
        let mut sock = Socket::new(NETLINK_NETFILTER).map_err(|e| failed("socket", e))?;
        sock.bind_auto().map_err(|e| failed("bind", e))?;
        sock.connect(&kernel()).map_err(|e| failed("connect", e))?;
        let _ = sock.set_ext_ack(true);
        Ok(Conntrack {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
            unfiltered: false,
            count: std::fs::File::open(COUNT).ok(),
        })
    }

    /// How many entries the namespace has (a sysctl read, microseconds): 0 means a delete
    /// has nothing to look for. None when it cannot be read.
    pub fn count(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let Some(f) = &self.count else {
            // No nf_conntrack_count: conntrack is not loaded in this kernel, nothing tracked.
            return Some(0);
        };
        let mut buf = [0u8; 32];
        let n = f.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }

    /// Append one request; `family` is the tuples' (the kernel parses them, and filters a
    /// dump, by the header's family).
    fn encode(
        &mut self,
        family: NetfilterProtoFamily,
        msg: ConntrackMessage,
        flags: u16,
        out: &mut Vec<u8>,
    ) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let nf = NetfilterMessage::new(NetfilterHeader::new(family, 0, 0), msg);
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(nf));
        nl.finalize();
        let start = out.len();
        out.resize(start + nl.buffer_len(), 0);
        nl.serialize(&mut out[start..]);
        self.seq
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock
            .send(bytes, 0)
            .map_err(|e| failed("send", e))
            .map(|_| ())
    }

    /// Read datagrams, calling `each` on every message; stop when `each` says so.
    fn read(
        &mut self,
        mut each: impl FnMut(NetlinkMessage<NetfilterMessage>) -> Result<bool>,
    ) -> Result<()> {
        loop {
            let n = self
                .sock
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| failed("recv", e))?;
            let mut off = 0;
            while off + 16 <= n {
                let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| failed("decode", e))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if each(msg)? {
                    return Ok(());
                }
            }
        }
    }

    /// One dump of `flows` (filtered by the kernel unless it refused): the matching entries,
    /// how many were sent, whether the dump was interrupted. Err(errno) when refused.
    fn dump(&mut self, flows: &Flows, filtered: bool) -> Result<std::result::Result<Dump, i32>> {
        let attributes = if filtered { flows.filter() } else { vec![] };
        let mut out = Vec::new();
        let seq = self.encode(
            flows.family(),
            ConntrackMessage::Other {
                message_type: u8::from(ConntrackMessageType::Get),
                attributes,
            },
            NLM_F_REQUEST | NLM_F_DUMP,
            &mut out,
        );
        self.send(&out)?;
        let (mut found, mut dumped, mut intr, mut refused) = (Vec::new(), 0, false, None);
        self.read(|msg| {
            if msg.header.sequence_number != seq {
                return Ok(false);
            }
            if msg.header.flags & NLM_F_DUMP_INTR != 0 {
                intr = true;
            }
            Ok(match msg.payload {
                NetlinkPayload::Done(_) => true,
                NetlinkPayload::Error(e) => {
                    refused = e.code.map(|c| -c.get());
                    true
                }
                NetlinkPayload::InnerMessage(NetfilterMessage {
                    inner: NetfilterMessageInner::Conntrack(ConntrackMessage::New(attrs)),
                    ..
                }) => {
                    dumped += 1;
                    if let Some(e) = Entry::parse(attrs).filter(|e| flows.matches(e)) {
                        found.push(e);
                    }
                    false
                }
                _ => false,
            })
        })?;
        Ok(match refused {
            Some(errno) => Err(errno),
            None => Ok((found, dumped, intr)),
        })
    }

    /// Ignore `CTA_FILTER` from now on: dump everything and filter here, as on a kernel
    /// that refuses it (for measurements and tests).
    pub fn without_kernel_filter(&mut self) {
        self.unfiltered = true;
    }

    /// The entries of `flows` now.
    pub fn list(&mut self, flows: &Flows) -> Result<Vec<Entry>> {
        Ok(self.list_counted(flows)?.0)
    }

    fn list_counted(&mut self, flows: &Flows) -> Result<Dump> {
        if !self.unfiltered {
            match self.dump(flows, true)? {
                Ok(r) => return Ok(r),
                Err(libc::EINVAL | libc::EOPNOTSUPP) => self.unfiltered = true,
                Err(errno) => return Err(failed("dump", errno_text(errno))),
            }
        }
        self.dump(flows, false)?
            .map_err(|errno| failed("dump", errno_text(errno)))
    }

    /// Delete the entries of `flows`. Entries that vanish meanwhile count as deleted.
    pub fn delete(&mut self, flows: &Flows) -> Result<Deleted> {
        let mut total = Deleted::default();
        // A dump walks the whole (machine-wide) hash table, ~10 ms: skip it when there is
        // no entry at all.
        if self.count() == Some(0) {
            return Ok(total);
        }
        for _ in 0..DUMP_RETRIES {
            let (found, dumped, interrupted) = self.list_counted(flows)?;
            total.dumped += dumped;
            for chunk in found.chunks(DELETE_BATCH) {
                self.delete_entries(chunk)?;
                total.deleted += chunk.len();
            }
            if !interrupted {
                return Ok(total);
            }
        }
        Err(failed(
            "dump",
            "kept being interrupted by concurrent changes",
        ))
    }

    /// Delete these exact entries (by original tuple, zone and id), in one datagram.
    fn delete_entries(&mut self, entries: &[Entry]) -> Result<()> {
        let mut out = Vec::new();
        let first = self.seq.wrapping_add(1);
        for e in entries {
            let mut attrs = vec![ConntrackAttribute::CtaTupleOrig(e.orig.clone())];
            attrs.extend(e.zone.clone().map(ConntrackAttribute::Other));
            attrs.extend(e.id.clone().map(ConntrackAttribute::Other));
            self.encode(
                family_of(e.orig_src.ip()),
                ConntrackMessage::Delete(attrs),
                NLM_F_REQUEST | NLM_F_ACK,
                &mut out,
            );
        }
        self.send(&out)?;
        self.acks("delete", first, entries.len(), &[libc::ENOENT])
    }

    /// Wait for the acks of `count` requests from sequence number `first`; an errno in
    /// `benign` is success.
    fn acks(&mut self, what: &str, first: u32, count: usize, benign: &[i32]) -> Result<()> {
        let mut left = count;
        let mut err = None;
        if left == 0 {
            return Ok(());
        }
        self.read(|msg| {
            if msg.header.sequence_number.wrapping_sub(first) as usize >= count {
                return Ok(false);
            }
            if let NetlinkPayload::Error(e) = msg.payload {
                if let Some(c) = e.code {
                    let errno = -c.get();
                    if !benign.contains(&errno) && err.is_none() {
                        err = Some(errno);
                    }
                }
                left -= 1;
            }
            Ok(left == 0)
        })?;
        match err {
            Some(errno) => Err(failed(what, errno_text(errno))),
            None => Ok(()),
        }
    }

    /// Create entries (for tests and measurements): each `(proto, orig src, orig dst, reply
    /// src, reply dst)` with `timeout` seconds. All are sent in batches; EEXIST is an error.
    pub fn create(
        &mut self,
        entries: &[(Proto, SocketAddr, SocketAddr, SocketAddr, SocketAddr)],
        timeout: u32,
    ) -> Result<()> {
        let tuple = |proto: Proto, src: SocketAddr, dst: SocketAddr| {
            vec![
                Tuple::Ip(vec![
                    IPTuple::SourceAddress(src.ip()),
                    IPTuple::DestinationAddress(dst.ip()),
                ]),
                Tuple::Proto(vec![
                    ProtoTuple::Protocol(Protocol::from(proto.number())),
                    ProtoTuple::SourcePort(src.port()),
                    ProtoTuple::DestinationPort(dst.port()),
                ]),
            ]
        };
        for chunk in entries.chunks(DELETE_BATCH) {
            let mut out = Vec::new();
            let first = self.seq.wrapping_add(1);
            for &(proto, os, od, rs, rd) in chunk {
                let attrs = vec![
                    ConntrackAttribute::CtaTupleOrig(tuple(proto, os, od)),
                    ConntrackAttribute::CtaTupleReply(tuple(proto, rs, rd)),
                    ConntrackAttribute::CtaTimeout(timeout),
                ];
                self.encode(
                    family_of(os.ip()),
                    ConntrackMessage::New(attrs),
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                    &mut out,
                );
            }
            self.send(&out)?;
            self.acks("create", first, chunk.len(), &[])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, NLA_F_NESTED};
    use std::net::Ipv4Addr;

    fn entry(proto: u8, os: &str, od: &str, rs: &str, rd: &str) -> Entry {
        Entry {
            proto,
            orig_src: os.parse().unwrap(),
            orig_dst: od.parse().unwrap(),
            reply_src: rs.parse().unwrap(),
            reply_dst: rd.parse().unwrap(),
            orig: vec![],
            id: None,
            zone: None,
        }
    }

    #[test]
    fn to_port_matches_the_original_destination_port_on_any_address() {
        let f = Flows::ToPort {
            proto: Proto::Udp,
            port: 8080,
            to: Ipv4Addr::UNSPECIFIED.into(),
        };
        let unreplied = entry(
            17,
            "198.18.0.2:40000",
            "198.18.0.1:8080",
            "198.18.0.1:8080",
            "198.18.0.2:40000",
        );
        assert!(f.matches(&unreplied));
        let other_addr = entry(
            17,
            "10.0.0.2:40000",
            "10.0.0.1:8080",
            "10.0.0.1:8080",
            "10.0.0.2:40000",
        );
        assert!(f.matches(&other_addr));
        let mut tcp = unreplied.clone();
        tcp.proto = 6;
        assert!(!f.matches(&tcp));
        let from_8080 = entry(
            17,
            "198.18.0.2:8080",
            "198.18.0.1:53",
            "198.18.0.1:53",
            "198.18.0.2:8080",
        );
        assert!(!f.matches(&from_8080));
        let on = |ip: &str| Flows::ToPort {
            proto: Proto::Udp,
            port: 8080,
            to: ip.parse().unwrap(),
        };
        assert!(on("198.18.0.1").matches(&unreplied));
        assert!(!on("10.0.0.1").matches(&unreplied));
    }

    #[test]
    fn answered_by_matches_the_reply_source() {
        let dnat = entry(
            17,
            "198.18.0.2:40000",
            "198.18.0.1:8080",
            "10.77.0.10:80",
            "198.18.0.2:40000",
        );
        let f = |port| Flows::AnsweredBy {
            proto: Proto::Udp,
            ip: "10.77.0.10".parse().unwrap(),
            port,
        };
        assert!(f(None).matches(&dnat));
        assert!(f(Some(80)).matches(&dnat));
        assert!(!f(Some(81)).matches(&dnat));
        // The container's own outgoing flow is answered by the remote end.
        let outgoing = entry(
            17,
            "10.77.0.10:5000",
            "198.18.0.2:53",
            "198.18.0.2:53",
            "198.18.0.1:5000",
        );
        assert!(!f(None).matches(&outgoing));
    }

    /// A selection is of one family: `::` is any IPv6 address, never an IPv4 one, and the
    /// reverse; an IPv6 reply source matches as an IPv4 one does.
    #[test]
    fn selections_are_of_one_family() {
        let v4 = entry(
            17,
            "198.18.0.2:40000",
            "198.18.0.1:8080",
            "10.77.0.10:80",
            "198.18.0.2:40000",
        );
        let v6 = entry(
            17,
            "[fd00:18::2]:40000",
            "[fd00:18::1]:8080",
            "[fd00:77::a]:80",
            "[fd00:18::2]:40000",
        );
        let to = |ip: &str| Flows::ToPort {
            proto: Proto::Udp,
            port: 8080,
            to: ip.parse().unwrap(),
        };
        assert!(to("::").matches(&v6) && !to("::").matches(&v4));
        assert!(to("0.0.0.0").matches(&v4) && !to("0.0.0.0").matches(&v6));
        assert!(to("fd00:18::1").matches(&v6) && !to("fd00:18::3").matches(&v6));
        assert_eq!(to("::").family(), NetfilterProtoFamily::IPv6);
        assert_eq!(to("0.0.0.0").family(), NetfilterProtoFamily::IPv4);
        let by = |ip: &str| Flows::AnsweredBy {
            proto: Proto::Udp,
            ip: ip.parse().unwrap(),
            port: Some(80),
        };
        assert!(by("fd00:77::a").matches(&v6) && !by("fd00:77::a").matches(&v4));
        assert!(!by("fd00:77::b").matches(&v6));
        assert_eq!(by("fd00:77::a").family(), NetfilterProtoFamily::IPv6);
    }

    /// The request as sent: CTA_FILTER and the tuple both flagged nested, flags in host order.
    #[test]
    fn dump_request_nests_are_flagged_and_flags_are_host_order() {
        let attributes = Flows::ToPort {
            proto: Proto::Udp,
            port: 8080,
            to: Ipv4Addr::UNSPECIFIED.into(),
        }
        .filter();
        let msg = ConntrackMessage::Other {
            message_type: u8::from(ConntrackMessageType::Get),
            attributes,
        };
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let ty = |at: usize| u16::from_ne_bytes([buf[at + 2], buf[at + 3]]);
        assert_eq!(ty(0), CTA_FILTER | NLA_F_NESTED);
        assert_eq!(ty(4), CTA_FILTER_ORIG_FLAGS);
        assert_eq!(
            u32::from_ne_bytes(buf[8..12].try_into().unwrap()),
            F_PROTO_NUM | F_PROTO_DST_PORT
        );
        assert_eq!(ty(12), 1 | NLA_F_NESTED, "CTA_TUPLE_ORIG");
        assert_eq!(ty(16), 2 | NLA_F_NESTED, "CTA_TUPLE_PROTO");
        // CTA_PROTO_NUM (u8, padded), then CTA_PROTO_DST_PORT big-endian.
        assert_eq!(buf[24], 17);
        assert_eq!(ty(28), 3);
        assert_eq!(u16::from_be_bytes([buf[32], buf[33]]), 8080);
    }
}
