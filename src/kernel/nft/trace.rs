//! nftables packet tracing over netlink (`meta nftrace set 1` + `NFNLGRP_NFTRACE`), the
//! kernel half of `podnet trace`:
//!
//! - [`arm_batch`]: a table of the tracer's own, **owned by the netlink socket that creates
//!   it** (`NFT_TABLE_F_OWNER`, kernel ≥ 5.12): the kernel deletes it when that socket closes,
//!   so a tracer killed with SIGKILL leaves no rule behind by construction. Its base chains set
//!   `nftrace` on the probe's packets before any other chain sees them (priority -500, before
//!   `raw` and conntrack), and empty "observer" chains at priority 500 report the packet as it
//!   leaves each hook (after NAT).
//! - [`TraceListener`]: a socket subscribed to `NFNLGRP_NFTRACE` in one namespace;
//!   [`parse_events`] turns its datagrams into [`TraceEvent`]s (pure, for tests).
//!
//! The nftrace flag lives on the skb and is cleared when a packet crosses into another
//! namespace (`skb_scrub_packet`), so a trace needs a table in every namespace it follows.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use netlink_packet_netfilter::nftables::{TableAttribute, TableFlags};

use super::batch::Batch;
use super::expr::{Expr, ImmData};
use super::model::{Chain, Rule, Table};
use super::query::{attrs, split_messages};
use super::stmt::{Sel, Stmt};
use super::subscribe::{subscribe, Options, Subscription};
use super::types::{ChainType, Family, Hook, Value};
use super::CmpOp;

/// Multicast group of trace events (`enum nfnetlink_groups`).
pub const NFNLGRP_NFTRACE: libc::c_int = 9;
/// `NFT_MSG_TRACE` in `enum nf_tables_msg_types`.
pub const NFT_MSG_TRACE: u8 = 17;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFT_META_NFTRACE`: the skb's trace flag.
const NFT_META_NFTRACE: u32 = 12;

/// `enum nft_trace_attributes`.
pub mod attr {
    pub const TABLE: u16 = 1;
    pub const CHAIN: u16 = 2;
    pub const RULE_HANDLE: u16 = 3;
    pub const TYPE: u16 = 4;
    pub const VERDICT: u16 = 5;
    pub const ID: u16 = 6;
    pub const LL_HEADER: u16 = 7;
    pub const NETWORK_HEADER: u16 = 8;
    pub const TRANSPORT_HEADER: u16 = 9;
    pub const IIF: u16 = 10;
    pub const OIF: u16 = 12;
    pub const MARK: u16 = 14;
    pub const NFPROTO: u16 = 15;
    pub const POLICY: u16 = 16;
    /// `NFTA_VERDICT_CODE` / `NFTA_VERDICT_CHAIN` inside [`VERDICT`].
    pub const VERDICT_CODE: u16 = 1;
    pub const VERDICT_CHAIN: u16 = 2;
}

/// `enum nft_trace_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceType {
    /// The chain's policy decided (no rule gave a final verdict).
    Policy,
    /// A `return` (explicit or the end of a regular chain).
    Return,
    /// A rule matched.
    Rule,
    Other,
}

/// A verdict as the trace reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceVerdict {
    Drop,
    Accept,
    Stolen,
    Queue,
    Repeat,
    Continue,
    Break,
    Jump(String),
    Goto(String),
    Return,
    Other(i32),
}

impl TraceVerdict {
    fn from_code(code: i32, chain: Option<String>) -> TraceVerdict {
        match code {
            0 => TraceVerdict::Drop,
            1 => TraceVerdict::Accept,
            2 => TraceVerdict::Stolen,
            3 => TraceVerdict::Queue,
            4 => TraceVerdict::Repeat,
            -1 => TraceVerdict::Continue,
            -2 => TraceVerdict::Break,
            -3 => TraceVerdict::Jump(chain.unwrap_or_default()),
            -4 => TraceVerdict::Goto(chain.unwrap_or_default()),
            -5 => TraceVerdict::Return,
            c => TraceVerdict::Other(c),
        }
    }

    /// Ends the packet's walk through the ruleset (drop or queue; an accept only ends a hook).
    pub fn is_final_drop(&self) -> bool {
        matches!(self, TraceVerdict::Drop)
    }
}

/// The IP (v4 or v6) and transport header fields of the traced packet, as the hook saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Headers {
    pub proto: u8,
    pub saddr: IpAddr,
    pub daddr: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl Headers {
    /// From the network header and (optionally) the transport header of an event. IPv6:
    /// the fixed header's next header is taken as the protocol (the probe sends no
    /// extension headers).
    pub fn parse(net: &[u8], transport: Option<&[u8]>) -> Option<Headers> {
        let (proto, saddr, daddr, hlen) = match net.first()? >> 4 {
            4 if net.len() >= 20 => (
                net[9],
                IpAddr::V4(Ipv4Addr::new(net[12], net[13], net[14], net[15])),
                IpAddr::V4(Ipv4Addr::new(net[16], net[17], net[18], net[19])),
                usize::from(net[0] & 0x0f) * 4,
            ),
            6 if net.len() >= 40 => {
                let a = |at: usize| -> IpAddr {
                    let b: [u8; 16] = net[at..at + 16].try_into().expect("16 bytes");
                    IpAddr::V6(Ipv6Addr::from(b))
                };
                (net[6], a(8), a(24), 40)
            }
            _ => return None,
        };
        // The kernel sends the transport header on its own; older ones only inside the
        // network header's bytes.
        let th = transport.or_else(|| net.get(hlen..));
        let (sport, dport) = match th {
            Some(t) if t.len() >= 4 => (
                u16::from_be_bytes([t[0], t[1]]),
                u16::from_be_bytes([t[2], t[3]]),
            ),
            _ => (0, 0),
        };
        Some(Headers {
            proto,
            saddr,
            daddr,
            sport,
            dport,
        })
    }
}

/// One trace event: a rule matched, or a chain's policy or return decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// The table's family (`nfgenmsg`): 1 inet, 2 ip, 7 bridge.
    pub family: u8,
    pub table: String,
    pub chain: String,
    pub rule_handle: Option<u64>,
    pub kind: TraceType,
    pub verdict: Option<TraceVerdict>,
    /// The chain's policy, on a [`TraceType::Policy`] event.
    pub policy: Option<TraceVerdict>,
    /// Same for every event of one packet in one namespace (a hash of the skb).
    pub id: u32,
    pub iif: Option<u32>,
    pub oif: Option<u32>,
    pub headers: Option<Headers>,
}

fn be_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

fn string(v: &[u8]) -> String {
    String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v)).into_owned()
}

/// The trace events in one datagram from an `NFNLGRP_NFTRACE` socket. Pure.
pub fn parse_events(buf: &[u8]) -> Vec<TraceEvent> {
    split_messages(buf)
        .into_iter()
        .filter(|m| m.ty == (NFNL_SUBSYS_NFTABLES << 8) | u16::from(NFT_MSG_TRACE))
        .filter_map(|m| parse_event(&m.body))
        .collect()
}

/// One `NFT_MSG_TRACE` body (`nfgenmsg` and attributes). Pure.
pub fn parse_event(body: &[u8]) -> Option<TraceEvent> {
    let family = *body.first()?;
    let list = attrs(body.get(4..)?);
    let get = |k: u16| list.iter().find(|(kind, _)| *kind == k).map(|(_, v)| *v);
    let verdict_of = |v: &[u8]| {
        let inner = attrs(v);
        let code = inner
            .iter()
            .find(|(k, _)| *k == attr::VERDICT_CODE)
            .and_then(|(_, v)| be_u32(v))? as i32;
        let chain = inner
            .iter()
            .find(|(k, _)| *k == attr::VERDICT_CHAIN)
            .map(|(_, v)| string(v));
        Some(TraceVerdict::from_code(code, chain))
    };
    let kind = match get(attr::TYPE).and_then(be_u32)? {
        1 => TraceType::Policy,
        2 => TraceType::Return,
        3 => TraceType::Rule,
        _ => TraceType::Other,
    };
    Some(TraceEvent {
        family,
        table: get(attr::TABLE).map(string)?,
        chain: get(attr::CHAIN).map(string).unwrap_or_default(),
        rule_handle: get(attr::RULE_HANDLE)
            .and_then(|v| Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))),
        kind,
        verdict: get(attr::VERDICT).and_then(verdict_of),
        policy: get(attr::POLICY)
            .and_then(be_u32)
            .map(|p| TraceVerdict::from_code(p as i32, None)),
        id: get(attr::ID).and_then(be_u32).unwrap_or(0),
        iif: get(attr::IIF).and_then(be_u32),
        oif: get(attr::OIF).and_then(be_u32),
        headers: get(attr::NETWORK_HEADER)
            .and_then(|n| Headers::parse(n, get(attr::TRANSPORT_HEADER))),
    })
}

/// What the arming rules match: `None` fields match anything. `v6`: the packet is IPv6
/// (the addresses, when given, are of the same family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    pub v6: bool,
    pub proto: u8,
    pub saddr: Option<IpAddr>,
    pub daddr: Option<IpAddr>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// `ETH_P_IP` / `ETH_P_IPV6`: the ethertype a bridge-family rule matches IP frames by.
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

impl Match {
    /// Whether a packet with these headers is one this match arms.
    pub fn covers(&self, h: &Headers) -> bool {
        h.proto == self.proto
            && self.saddr.is_none_or(|a| a == h.saddr)
            && self.daddr.is_none_or(|a| a == h.daddr)
            && self.sport.is_none_or(|p| p == h.sport)
            && self.dport.is_none_or(|p| p == h.dport)
    }

    /// The rule's match in a table of `family`: `meta nfproto ipv4|ipv6` in inet, `meta
    /// protocol ip|ip6` (the ethertype) in bridge, where nfproto is always NFPROTO_BRIDGE.
    /// The kernel fills the network and transport offsets for IP frames in bridge chains
    /// too, so the payload and l4proto matches are the same.
    fn stmts(&self, family: Family) -> Vec<Stmt> {
        let eq = |sel, value| Stmt::Cmp {
            sel,
            op: CmpOp::Eq,
            value,
        };
        let l3 = match (family, self.v6) {
            (Family::Bridge, false) => eq(Sel::Protocol, Value::Port(ETH_P_IP)),
            (Family::Bridge, true) => eq(Sel::Protocol, Value::Port(ETH_P_IPV6)),
            (_, false) => eq(Sel::NfProto, Value::Proto(libc::NFPROTO_IPV4 as u8)),
            (_, true) => eq(Sel::NfProto, Value::Proto(libc::NFPROTO_IPV6 as u8)),
        };
        let addr = |v4: Sel, v6: Sel, a: IpAddr| match a {
            IpAddr::V4(a) => eq(v4, Value::Ipv4(a)),
            IpAddr::V6(a) => eq(v6, Value::Ipv6(a)),
        };
        let mut s = vec![l3, eq(Sel::L4Proto, Value::Proto(self.proto))];
        if let Some(a) = self.saddr {
            s.push(addr(Sel::IpSaddr, Sel::Ip6Saddr, a));
        }
        if let Some(a) = self.daddr {
            s.push(addr(Sel::IpDaddr, Sel::Ip6Daddr, a));
        }
        if let Some(p) = self.sport {
            s.push(eq(Sel::ThSport, Value::Port(p)));
        }
        if let Some(p) = self.dport {
            s.push(eq(Sel::ThDport, Value::Port(p)));
        }
        s
    }
}

/// Before everything: `raw` is -300, conntrack -200, podnet's guard `raw`.
pub const ARM_PRIORITY: i32 = -500;
/// After everything, NAT included (`srcnat` is 100): the packet as it leaves the hook.
pub const OBSERVE_PRIORITY: i32 = 500;

/// What every tracer's table name starts with.
pub const TABLE_PREFIX: &str = "podnet-trace-";

/// The tracer's table: family `inet`, named per trace (process id and a per-process count:
/// `podnet ui` runs traces on several threads of one process) so concurrent traces never meet.
pub fn table() -> Table {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Table::new(
        Family::Inet,
        format!("{TABLE_PREFIX}{}-{n}", std::process::id()),
    )
}

fn add_owned_table(b: &mut Batch, t: &Table) {
    b.add_table_with(
        t,
        vec![
            TableAttribute::Name(t.name.clone()),
            TableAttribute::Flags(TableFlags::Owner),
        ],
    );
}

/// `add table` (owned by the sending socket), the arming chains (prerouting and output:
/// `<match> meta nftrace set 1`) and the observers (input, forward, postrouting: no rules,
/// policy accept — their policy event shows the packet after every other chain of the hook).
///
/// With `bridge` (a namespace holding bridges: the host), also its bridge-family twin (same
/// name) with one
/// arming chain on the bridge family's prerouting hook, before podnet's anti-spoofing
/// (bridge prerouting, -200) and br_netfilter (0): a frame a container sends is marked as it
/// enters its bridge port, so drops of the bridge family (anti-spoofing, `--icc=false` in
/// bridge forward) are traced even where br_netfilter never hands the frame to the inet
/// hooks. The flag stays on the skb through the bridge and the inet hooks of the same
/// namespace. No bridge observers: the inet ones already say where the packet went (a bridge
/// `input` would also see frames the host itself is the destination of).
pub fn arm_batch(t: &Table, m: &Match, bridge: bool) -> Batch {
    let mut b = Batch::new();
    if bridge {
        let bt = Table::new(Family::Bridge, t.name.clone());
        add_owned_table(&mut b, &bt);
        let mut rule = m.stmts(Family::Bridge);
        rule.push(nftrace_on());
        b.add_chain(
            &bt,
            &Chain::base(
                "arm_prerouting",
                ChainType::Filter,
                Hook::Prerouting,
                ARM_PRIORITY,
            ),
        );
        b.add_rule(&bt, &Rule::new("arm_prerouting", rule));
    }
    add_owned_table(&mut b, t);
    let mut rule = m.stmts(t.family);
    rule.push(nftrace_on());
    for (name, hook) in [
        ("arm_prerouting", Hook::Prerouting),
        ("arm_output", Hook::Output),
    ] {
        b.add_chain(t, &Chain::base(name, ChainType::Filter, hook, ARM_PRIORITY));
        b.add_rule(t, &Rule::new(name, rule.clone()));
    }
    for (name, hook) in [
        ("seen_input", Hook::Input),
        ("seen_forward", Hook::Forward),
        ("seen_postrouting", Hook::Postrouting),
    ] {
        b.add_chain(
            t,
            &Chain::base(name, ChainType::Filter, hook, OBSERVE_PRIORITY),
        );
    }
    b
}

/// `meta nftrace set 1`.
fn nftrace_on() -> Stmt {
    Stmt::Raw(vec![
        Expr::Immediate {
            dreg: 1,
            data: ImmData::Value(1u32.to_ne_bytes().to_vec()),
        },
        Expr::MetaSet {
            key: NFT_META_NFTRACE,
            sreg: 1,
        },
    ])
}

/// A subscription to trace events in the calling thread's network namespace (the socket stays
/// bound to it wherever it is read).
pub struct TraceListener {
    sub: Subscription,
    buf: Vec<u8>,
}

impl TraceListener {
    pub fn open() -> io::Result<TraceListener> {
        let o = Options {
            nonblocking: true,
            rcvbuf: None,
        };
        Ok(TraceListener {
            sub: subscribe(NFNLGRP_NFTRACE, o)?,
            buf: vec![0; 1 << 16],
        })
    }

    pub fn raw_fd(&self) -> i32 {
        self.sub.raw_fd()
    }

    /// Every event already queued, without waiting.
    pub fn drain(&mut self) -> io::Result<Vec<TraceEvent>> {
        let mut out = vec![];
        loop {
            match self.sub.recv(&mut self.buf) {
                Ok(n) => out.extend(parse_events(&self.buf[..n])),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(out),
                    // Lost events: report what we have; the caller says the trace is partial.
                    Some(libc::ENOBUFS) => return Ok(out),
                    _ => return Err(e),
                },
            }
        }
    }
}

/// Wait until one of `listeners` has something to read, or `deadline` passes; returns
/// whether any is readable.
pub fn wait_any(listeners: &[&TraceListener], deadline: Instant) -> bool {
    let mut fds: Vec<libc::pollfd> = listeners
        .iter()
        .map(|l| libc::pollfd {
            fd: l.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left == Duration::ZERO {
            return false;
        }
        // SAFETY: poll over a vector of pollfds we own, with its length.
        let r = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                left.as_millis().clamp(1, i32::MAX as u128) as i32,
            )
        };
        if r > 0 {
            return true;
        }
        if r == 0 {
            return false;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::expr::{nla_nest, nla_str, nla_u32, nla_u64};
    use crate::kernel::nft::query::encode_request;
    use netlink_packet_core::DefaultNla;

    fn event(attrs: &[DefaultNla]) -> Vec<u8> {
        let mut m = encode_request(NFT_MSG_TRACE, 2, 0, 0, attrs);
        // A notification, not a request: same layout.
        m[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | 17).to_ne_bytes());
        m
    }

    #[test]
    fn parses_a_rule_event_with_headers_and_verdict() {
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
        ip.extend([10, 88, 0, 2, 10, 89, 0, 3]);
        let tcp = vec![0x9c, 0x40, 0, 80, 0, 0, 0, 0];
        let buf = event(&[
            nla_str(attr::TABLE, "podnet"),
            nla_str(attr::CHAIN, "forward"),
            nla_u64(attr::RULE_HANDLE, 7),
            nla_u32(attr::TYPE, 3),
            nla_nest(attr::VERDICT, &[nla_u32(attr::VERDICT_CODE, 0)]),
            nla_u32(attr::ID, 99),
            DefaultNla::new(attr::NETWORK_HEADER, ip),
            DefaultNla::new(attr::TRANSPORT_HEADER, tcp),
            nla_u32(attr::IIF, 4),
            nla_u32(attr::OIF, 5),
        ]);
        let ev = parse_events(&buf);
        assert_eq!(ev.len(), 1);
        let e = &ev[0];
        assert_eq!(
            (e.family, e.table.as_str(), e.chain.as_str()),
            (2, "podnet", "forward")
        );
        assert_eq!(e.rule_handle, Some(7));
        assert_eq!(e.kind, TraceType::Rule);
        assert_eq!(e.verdict, Some(TraceVerdict::Drop));
        assert_eq!((e.id, e.iif, e.oif), (99, Some(4), Some(5)));
        let h = e.headers.unwrap();
        assert_eq!(h.saddr, IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)));
        assert_eq!(h.daddr, IpAddr::V4(Ipv4Addr::new(10, 89, 0, 3)));
        assert_eq!((h.proto, h.sport, h.dport), (6, 40000, 80));
    }

    #[test]
    fn jump_verdicts_carry_their_chain_and_odd_input_does_not_panic() {
        let buf = event(&[
            nla_str(attr::TABLE, "podnet-svc"),
            nla_str(attr::CHAIN, "prerouting"),
            nla_u32(attr::TYPE, 3),
            nla_nest(
                attr::VERDICT,
                &[
                    nla_u32(attr::VERDICT_CODE, -4i32 as u32),
                    nla_str(attr::VERDICT_CHAIN, "bucket_2"),
                ],
            ),
        ]);
        let e = &parse_events(&buf)[0];
        assert_eq!(e.verdict, Some(TraceVerdict::Goto("bucket_2".into())));
        for n in 0..buf.len() {
            let _ = parse_events(&buf[..n]);
        }
        assert!(parse_events(&[]).is_empty());
    }
}

#[cfg(test)]
mod arm_tests {
    use super::*;
    use crate::kernel::nft::render_debug_in;

    /// The arming rule is what `nft --debug=netlink add rule inet t c meta nfproto ipv4
    /// meta l4proto tcp ip daddr 1.2.3.4 th sport 5 meta nftrace set 1` sends.
    #[test]
    fn the_arming_rule_is_nfts() {
        let m = Match {
            proto: 6,
            daddr: Some(Ipv4Addr::new(1, 2, 3, 4).into()),
            sport: Some(5),
            ..Match::default()
        };
        let mut s = m.stmts(Family::Inet);
        s.push(nftrace_on());
        let text = render_debug_in(Family::Inet, &s);
        let want = "  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x00000002 ]
  [ meta load l4proto => reg 1 ]
  [ cmp eq reg 1 0x00000006 ]
  [ payload load 4b @ network header + 16 => reg 1 ]
  [ cmp eq reg 1 0x04030201 ]
  [ payload load 2b @ transport header + 0 => reg 1 ]
  [ cmp eq reg 1 0x00000500 ]
  [ immediate reg 1 0x00000001 ]
  [ meta set nftrace with reg 1 ]
";
        assert_eq!(text, want);
    }

    /// In the bridge family the IPv4 check is the ethertype: what `nft --debug=netlink add
    /// rule bridge t c meta protocol ip meta l4proto tcp ip saddr 1.2.3.4 th sport 5 meta
    /// nftrace set 1` sends.
    #[test]
    fn the_bridge_arming_rule_is_nfts() {
        let m = Match {
            proto: 6,
            saddr: Some(Ipv4Addr::new(1, 2, 3, 4).into()),
            sport: Some(5),
            ..Match::default()
        };
        let mut s = m.stmts(Family::Bridge);
        s.push(nftrace_on());
        let text = render_debug_in(Family::Bridge, &s);
        let want = "  [ meta load protocol => reg 1 ]
  [ cmp eq reg 1 0x00000008 ]
  [ meta load l4proto => reg 1 ]
  [ cmp eq reg 1 0x00000006 ]
  [ payload load 4b @ network header + 12 => reg 1 ]
  [ cmp eq reg 1 0x04030201 ]
  [ payload load 2b @ transport header + 0 => reg 1 ]
  [ cmp eq reg 1 0x00000500 ]
  [ immediate reg 1 0x00000001 ]
  [ meta set nftrace with reg 1 ]
";
        assert_eq!(text, want);
    }

    /// IPv6, both families: what `nft --debug=netlink add rule inet t c meta nfproto ipv6
    /// meta l4proto udp ip6 daddr fd00::1 th dport 80 meta nftrace set 1` and `... bridge t c
    /// meta protocol ip6 meta l4proto tcp ip6 saddr fd00::1 meta nftrace set 1` send.
    #[test]
    fn the_ipv6_arming_rules_are_nfts() {
        let a: IpAddr = "fd00::1".parse().unwrap();
        let inet = Match {
            v6: true,
            proto: 17,
            daddr: Some(a),
            dport: Some(80),
            ..Match::default()
        };
        let mut s = inet.stmts(Family::Inet);
        s.push(nftrace_on());
        let want = "  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x0000000a ]
  [ meta load l4proto => reg 1 ]
  [ cmp eq reg 1 0x00000011 ]
  [ payload load 16b @ network header + 24 => reg 1 ]
  [ cmp eq reg 1 0x000000fd 0x00000000 0x00000000 0x01000000 ]
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ cmp eq reg 1 0x00005000 ]
  [ immediate reg 1 0x00000001 ]
  [ meta set nftrace with reg 1 ]
";
        assert_eq!(render_debug_in(Family::Inet, &s), want);
        let bridge = Match {
            v6: true,
            proto: 6,
            saddr: Some(a),
            ..Match::default()
        };
        let mut s = bridge.stmts(Family::Bridge);
        s.push(nftrace_on());
        let want = "  [ meta load protocol => reg 1 ]
  [ cmp eq reg 1 0x0000dd86 ]
  [ meta load l4proto => reg 1 ]
  [ cmp eq reg 1 0x00000006 ]
  [ payload load 16b @ network header + 8 => reg 1 ]
  [ cmp eq reg 1 0x000000fd 0x00000000 0x00000000 0x01000000 ]
  [ immediate reg 1 0x00000001 ]
  [ meta set nftrace with reg 1 ]
";
        assert_eq!(render_debug_in(Family::Bridge, &s), want);
    }

    #[test]
    fn ipv6_headers_parse() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip.extend("fd00:90::2".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend("fd00:91::3".parse::<Ipv6Addr>().unwrap().octets());
        let tcp = [0x9c, 0x40, 0, 80];
        let h = Headers::parse(&ip, Some(&tcp)).unwrap();
        assert_eq!(h.saddr, "fd00:90::2".parse::<IpAddr>().unwrap());
        assert_eq!(h.daddr, "fd00:91::3".parse::<IpAddr>().unwrap());
        assert_eq!((h.proto, h.sport, h.dport), (6, 40000, 80));
        assert_eq!(Headers::parse(&ip[..39], None), None);
    }
}
