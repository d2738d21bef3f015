//! Rule statements at the level of nft syntax, and the pure renderer that
//! turns them into kernel expressions with registers allocated the way nft
//! does (so `nft --debug=netlink` prints the same thing for both).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::expr::{CmpOp, DynsetOp, Expr, ImmData, NatKind};
pub use super::sel::{
    ct_state, ct_status, icmp6, Sel, ARP_ETHERNET_IPV4, IPPROTO_ICMPV6, RTN_LOCAL,
};
use super::types::{Family, Value, Verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    TcpReset,
    /// ICMP (ip family) unreachable code, e.g. 1 host-unreachable, 3 port-unreachable.
    Icmp(u8),
    /// ICMPx (inet family): 0 no-route, 1 port-, 2 host-unreachable, 3 admin-prohibited.
    Icmpx(u8),
}

/// One nft statement. Several make a rule; they render left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `<sel> <op> <value>`, e.g. `meta l4proto tcp`, `oifname != "br0"`.
    Cmp {
        sel: Sel,
        op: CmpOp,
        value: Value,
    },
    /// `<sel> == <bytes>` for a field without a datatype of its own, e.g. [`Sel::ArpFormat`].
    RawEq {
        sel: Sel,
        data: Vec<u8>,
    },
    /// Interface name prefix, `iifname "veth*"`.
    NamePrefix {
        sel: Sel,
        prefix: String,
        negate: bool,
    },
    /// `ip saddr 10.0.0.0/8` (or `!=` when `negate`).
    Prefix {
        sel: Sel,
        addr: Ipv4Addr,
        len: u8,
        negate: bool,
    },
    /// `ip6 daddr ::1` / `ip6 saddr fe80::/10` (or `!=` when `negate`).
    Prefix6 {
        sel: Sel,
        addr: Ipv6Addr,
        len: u8,
        negate: bool,
    },
    /// Bit test, `ct state established,related` = `(sel & mask) != 0`.
    AnyBits {
        sel: Sel,
        mask: u32,
    },
    /// `<k1> . <k2> ... [!=] @set`.
    InSet {
        key: Vec<Sel>,
        set: String,
        invert: bool,
    },
    /// `<k1> . <k2> ... [!=] { e1, e2, ... }`: an anonymous constant set
    /// created in the same batch as the rule.
    InList {
        key: Vec<Sel>,
        elements: Vec<Vec<Value>>,
        invert: bool,
    },
    /// `<k1> . <k2> ... vmap @map`.
    Vmap {
        key: Vec<Sel>,
        map: String,
    },
    /// `snat|dnat ip to <k1> . <k2> ... map @map`; the map's value is
    /// `ipv4_addr` or `ipv4_addr . inet_service` (`with_port`). In a table of family `ip6`
    /// it is `dnat ip6 to ...` and the map's value `ipv6_addr [. inet_service]`.
    NatMap {
        kind: NatKind,
        key: Vec<Sel>,
        map: String,
        with_port: bool,
    },
    /// `snat|dnat to ADDR[:PORT]`.
    Nat {
        kind: NatKind,
        addr: Ipv4Addr,
        port: Option<u16>,
    },
    Masquerade,
    /// `meta mark set (mark & and) ^ xor`: `mark or M` is `and: !M, xor: M`, `mark and M`
    /// is `and: M, xor: 0`.
    MarkUpdate {
        and: u32,
        xor: u32,
    },
    /// `ether daddr set MAC` (the frame's destination address; no checksum involved).
    EtherDaddrSet([u8; 6]),
    /// `fwd to DEVICE` by interface index (netdev family only).
    Fwd {
        ifindex: u32,
    },
    Counter,
    Reject(Reject),
    /// `add|update @set { <key> [timeout T] [: <data>] }`.
    Dynset {
        op: DynsetOp,
        set: String,
        key: Vec<Sel>,
        data: Vec<Sel>,
        timeout: Option<Duration>,
    },
    Verdict(Verdict),
    /// Escape hatch for anything not modelled above.
    Raw(Vec<Expr>),
}

/// The name nft gives anonymous sets; the kernel substitutes a number.
pub const ANON_SET_NAME: &str = "__set%d";

/// nft's register naming for the 32-bit slot `k`: a slot at the start of a
/// 128-bit register is called by the 128-bit name (1..=4), others 8 + k.
pub fn slot_reg(k: u32) -> u32 {
    if k.is_multiple_of(4) {
        1 + k / 4
    } else {
        8 + k
    }
}

/// Loads the fields of a concatenation into consecutive 32-bit slots from
/// `first_slot`; returns the slot after the last one used.
fn load_concat(out: &mut Vec<Expr>, key: &[Sel], first_slot: u32) -> u32 {
    let mut slot = first_slot;
    for sel in key {
        out.push(sel.load(slot_reg(slot)));
        slot += sel.byte_len().div_ceil(4);
    }
    slot
}

fn prefix_match(out: &mut Vec<Expr>, sel: Sel, bytes: &[u8], len: u8, negate: bool) {
    let op = if negate { CmpOp::Neq } else { CmpOp::Eq };
    if len.is_multiple_of(8) {
        // nft loads only the significant bytes when the prefix is byte aligned.
        let n = u32::from(len / 8);
        let base = match sel.load(1) {
            Expr::Payload { base, offset, .. } => (base, offset),
            other => panic!("prefix match needs a payload selector, got {other:?}"),
        };
        out.push(Expr::Payload {
            base: base.0,
            offset: base.1,
            len: n,
            dreg: 1,
        });
        out.push(Expr::Cmp {
            sreg: 1,
            op,
            data: bytes[..n as usize].to_vec(),
        });
        return;
    }
    let bits = bytes.len() * 8;
    let mask = (u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)).to_be_bytes();
    let mask = &mask[..bits / 8];
    let net: Vec<u8> = bytes.iter().zip(mask).map(|(b, m)| b & m).collect();
    out.push(sel.load(1));
    out.push(Expr::Bitwise {
        sreg: 1,
        dreg: 1,
        mask: mask.to_vec(),
        xor: vec![0; bytes.len()],
    });
    out.push(Expr::Cmp {
        sreg: 1,
        op,
        data: net,
    });
}

/// `anon` counts the rule's anonymous sets: their lookups carry the rule-local
/// index as `set_id`, which the batch offsets to a batch-wide id. `family` is the table's:
/// a NAT map in an `ip6` table translates to IPv6 addresses.
fn render_one(out: &mut Vec<Expr>, stmt: &Stmt, anon: &mut u32, family: Family) {
    match stmt {
        Stmt::InList { key, invert, .. } => {
            load_concat(out, key, 0);
            out.push(Expr::Lookup {
                set: ANON_SET_NAME.into(),
                set_id: Some(*anon),
                sreg: 1,
                dreg: None,
                invert: *invert,
            });
            *anon += 1;
        }
        Stmt::Cmp { sel, op, value } => {
            out.push(sel.load(1));
            out.push(Expr::Cmp {
                sreg: 1,
                op: *op,
                data: value.raw(),
            });
        }
        Stmt::RawEq { sel, data } => {
            out.push(sel.load(1));
            out.push(Expr::Cmp {
                sreg: 1,
                op: CmpOp::Eq,
                data: data.clone(),
            });
        }
        Stmt::NamePrefix {
            sel,
            prefix,
            negate,
        } => {
            out.push(sel.load(1));
            let op = if *negate { CmpOp::Neq } else { CmpOp::Eq };
            out.push(Expr::Cmp {
                sreg: 1,
                op,
                data: prefix.as_bytes().to_vec(),
            });
        }
        Stmt::Prefix {
            sel,
            addr,
            len,
            negate,
        } => prefix_match(out, *sel, &addr.octets(), *len, *negate),
        Stmt::Prefix6 {
            sel,
            addr,
            len,
            negate,
        } => prefix_match(out, *sel, &addr.octets(), *len, *negate),
        Stmt::AnyBits { sel, mask } => {
            out.push(sel.load(1));
            let m = mask.to_ne_bytes().to_vec();
            out.push(Expr::Bitwise {
                sreg: 1,
                dreg: 1,
                xor: vec![0; m.len()],
                mask: m,
            });
            out.push(Expr::Cmp {
                sreg: 1,
                op: CmpOp::Neq,
                data: vec![0; sel.byte_len() as usize],
            });
        }
        Stmt::InSet { key, set, invert } => {
            load_concat(out, key, 0);
            out.push(Expr::Lookup {
                set: set.clone(),
                set_id: None,
                sreg: 1,
                dreg: None,
                invert: *invert,
            });
        }
        Stmt::Vmap { key, map } => {
            load_concat(out, key, 0);
            out.push(Expr::Lookup {
                set: map.clone(),
                set_id: None,
                sreg: 1,
                dreg: Some(0),
                invert: false,
            });
        }
        Stmt::NatMap {
            kind,
            key,
            map,
            with_port,
        } => {
            load_concat(out, key, 0);
            out.push(Expr::Lookup {
                set: map.clone(),
                set_id: None,
                sreg: 1,
                dreg: Some(1),
                invert: false,
            });
            // The port follows the address in the map's value: 32-bit slot 1 after an IPv4
            // address, slot 4 (the second 128-bit register) after an IPv6 one.
            let (nfproto, port_slot) = match family {
                Family::Ip6 => (Family::Ip6.nfproto(), 4),
                _ => (Family::Ip.nfproto(), 1),
            };
            out.push(Expr::Nat {
                kind: *kind,
                nfproto,
                addr: Some(1),
                proto: with_port.then_some(slot_reg(port_slot)),
                flags: 0,
            });
        }
        Stmt::Nat { kind, addr, port } => {
            out.push(Expr::Immediate {
                dreg: 1,
                data: ImmData::Value(addr.octets().to_vec()),
            });
            if let Some(p) = port {
                out.push(Expr::Immediate {
                    dreg: 2,
                    data: ImmData::Value(p.to_be_bytes().to_vec()),
                });
            }
            out.push(Expr::Nat {
                kind: *kind,
                nfproto: 2,
                addr: Some(1),
                proto: port.map(|_| 2),
                // NF_NAT_RANGE_PROTO_SPECIFIED, as nft sends it.
                flags: if port.is_some() { 2 } else { 0 },
            });
        }
        Stmt::Masquerade => out.push(Expr::Masq),
        Stmt::MarkUpdate { and, xor } => {
            out.push(Sel::Mark.load(1));
            out.push(Expr::Bitwise {
                sreg: 1,
                dreg: 1,
                mask: and.to_ne_bytes().to_vec(),
                xor: xor.to_ne_bytes().to_vec(),
            });
            // NFT_META_MARK.
            out.push(Expr::MetaSet { key: 3, sreg: 1 });
        }
        Stmt::EtherDaddrSet(mac) => {
            out.push(Expr::Immediate {
                dreg: 1,
                data: ImmData::Value(mac.to_vec()),
            });
            out.push(Expr::PayloadWrite {
                base: super::expr::PayloadBase::Link,
                offset: 0,
                len: 6,
                sreg: 1,
            });
        }
        Stmt::Fwd { ifindex } => {
            out.push(Expr::Immediate {
                dreg: 1,
                data: ImmData::Value(ifindex.to_ne_bytes().to_vec()),
            });
            out.push(Expr::Fwd { sreg_dev: 1 });
        }
        Stmt::Counter => out.push(Expr::Counter),
        Stmt::Reject(r) => out.push(match r {
            Reject::TcpReset => Expr::Reject { kind: 1, code: 0 },
            Reject::Icmp(code) => Expr::Reject {
                kind: 0,
                code: *code,
            },
            Reject::Icmpx(code) => Expr::Reject {
                kind: 2,
                code: *code,
            },
        }),
        Stmt::Dynset {
            op,
            set,
            key,
            data,
            timeout,
        } => {
            let end = load_concat(out, key, 0);
            let data_reg = if data.is_empty() {
                None
            } else {
                // nft puts the data in the next 128-bit register; an IPv6 affinity entry
                // (40-byte key, 20-byte data) only fits the 64 bytes of registers right after
                // its key (nft 1.0.6 itself cannot compile that rule, but lists it).
                let len: u32 = data.iter().map(|d| d.byte_len().div_ceil(4)).sum();
                let aligned = end.div_ceil(4) * 4;
                let first = if aligned + len > 16 { end } else { aligned };
                load_concat(out, data, first);
                Some(slot_reg(first))
            };
            out.push(Expr::Dynset {
                op: *op,
                set: set.clone(),
                sreg_key: 1,
                sreg_data: data_reg,
                timeout_ms: timeout.map(|t| t.as_millis() as u64),
            });
        }
        Stmt::Verdict(v) => out.push(Expr::Immediate {
            dreg: 0,
            data: ImmData::Verdict(v.clone()),
        }),
        Stmt::Raw(exprs) => out.extend(exprs.iter().cloned()),
    }
}

/// Renders statements to kernel expressions, for a table of family `ip` (or one without
/// NAT). Pure: no I/O, no kernel.
pub fn render(stmts: &[Stmt]) -> Vec<Expr> {
    render_in(Family::Ip, stmts)
}

/// Renders statements for a table of `family` (which decides what a NAT map translates).
pub fn render_in(family: Family, stmts: &[Stmt]) -> Vec<Expr> {
    let mut out = Vec::with_capacity(stmts.len() * 2);
    let mut anon = 0;
    for s in stmts {
        render_one(&mut out, s, &mut anon, family);
    }
    out
}

/// Renders to the text `nft --debug=netlink` prints for the same rule.
pub fn render_debug(stmts: &[Stmt]) -> String {
    render_debug_in(Family::Ip, stmts)
}

/// [`render_debug`] for a table of `family`.
pub fn render_debug_in(family: Family, stmts: &[Stmt]) -> String {
    render_in(family, stmts)
        .iter()
        .map(|e| format!("  {e}\n"))
        .collect()
}
