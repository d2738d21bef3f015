//! `Display` for [`Expr`] in the exact text of `nft --debug=netlink`, so tests
//! can compare our rendering with nft's compiler and with the kernel's copy.

use std::fmt;

use super::expr::{Expr, ImmData, NatKind, PayloadBase};
use super::types::Verdict;

fn words(data: &[u8]) -> String {
    data.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            format!("0x{:08x}", u32::from_le_bytes(w))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const META_KEYS: [&str; 22] = [
    "len",
    "protocol",
    "priority",
    "mark",
    "iif",
    "oif",
    "iifname",
    "oifname",
    "iiftype",
    "oiftype",
    "skuid",
    "skgid",
    "nftrace",
    "rtclassid",
    "secmark",
    "nfproto",
    "l4proto",
    "bri_iifname",
    "bri_oifname",
    "pkttype",
    "cpu",
    "iifgroup",
];
const CT_KEYS: [&str; 23] = [
    "state",
    "direction",
    "status",
    "mark",
    "secmark",
    "expiration",
    "helper",
    "l3protocol",
    "src",
    "dst",
    "protocol",
    "proto_src",
    "proto_dst",
    "label",
    "packets",
    "bytes",
    "avgpkt",
    "zone",
    "event",
    "src_ip",
    "dst_ip",
    "src_ip6",
    "dst_ip6",
];

fn key_name(table: &[&'static str], key: u32) -> String {
    table
        .get(key as usize)
        .map_or_else(|| format!("unknown({key})"), |s| s.to_string())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[ ")?;
        match self {
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                let b = match base {
                    PayloadBase::Link => "link",
                    PayloadBase::Network => "network",
                    PayloadBase::Transport => "transport",
                };
                write!(
                    f,
                    "payload load {len}b @ {b} header + {offset} => reg {dreg}"
                )?
            }
            Expr::Meta { key, dreg } => {
                write!(f, "meta load {} => reg {dreg}", key_name(&META_KEYS, *key))?
            }
            Expr::Ct {
                key,
                original,
                dreg,
            } => {
                write!(f, "ct load {} => reg {dreg}", key_name(&CT_KEYS, *key))?;
                if let Some(o) = original {
                    write!(f, " , dir {}", if *o { "original" } else { "reply" })?;
                }
            }
            Expr::Cmp { sreg, op, data } => {
                let o = ["eq", "neq", "lt", "lte", "gt", "gte"][*op as usize];
                write!(f, "cmp {o} reg {sreg} {}", words(data))?
            }
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => write!(
                f,
                "bitwise reg {dreg} = ( reg {sreg} & {} ) ^ {}",
                words(mask),
                words(xor)
            )?,
            Expr::Lookup {
                set,
                set_id: _,
                sreg,
                dreg,
                invert,
            } => {
                write!(f, "lookup reg {sreg} set {set}")?;
                if let Some(d) = dreg {
                    write!(f, " dreg {d}")?;
                }
                if *invert {
                    write!(f, " 0x1")?;
                }
            }
            Expr::Immediate { dreg, data } => match data {
                ImmData::Value(v) => write!(f, "immediate reg {dreg} {}", words(v))?,
                ImmData::Verdict(v) => {
                    let name = match v {
                        Verdict::Accept => "accept",
                        Verdict::Drop => "drop",
                        Verdict::Continue => "continue",
                        Verdict::Return => "return",
                        Verdict::Jump(_) => "jump",
                        Verdict::Goto(_) => "goto",
                    };
                    write!(f, "immediate reg {dreg} {name}")?;
                    if let Some(c) = v.chain() {
                        write!(f, " -> {c}")?;
                    }
                }
            },
            Expr::Counter => write!(f, "counter pkts 0 bytes 0")?,
            Expr::Nat {
                kind,
                nfproto,
                addr,
                proto,
                flags,
            } => {
                let k = if *kind == NatKind::Snat {
                    "snat"
                } else {
                    "dnat"
                };
                let fam = if *nfproto == 10 { "ip6" } else { "ip" };
                write!(f, "nat {k} {fam}")?;
                if let Some(r) = addr {
                    write!(f, " addr_min reg {r}")?;
                }
                if let Some(r) = proto {
                    write!(f, " proto_min reg {r}")?;
                }
                if *flags != 0 {
                    write!(f, " flags 0x{flags:x}")?;
                }
            }
            Expr::Masq => write!(f, "masq")?,
            Expr::MetaSet { key, sreg } => {
                write!(f, "meta set {} with reg {sreg}", key_name(&META_KEYS, *key))?
            }
            Expr::PayloadWrite {
                base,
                offset,
                len,
                sreg,
            } => {
                let b = match base {
                    PayloadBase::Link => "link",
                    PayloadBase::Network => "network",
                    PayloadBase::Transport => "transport",
                };
                write!(
                    f,
                    "payload write reg {sreg} => {len}b @ {b} header + {offset} csum_type 0 csum_off 0 csum_flags 0x0"
                )?
            }
            Expr::Fwd { sreg_dev } => write!(f, "fwd sreg_dev {sreg_dev}")?,
            Expr::Numgen {
                dreg,
                modulus,
                offset,
            } => {
                write!(f, "numgen reg {dreg} = random mod {modulus}")?;
                if *offset != 0 {
                    write!(f, " offset {offset}")?;
                }
            }
            Expr::Dynset {
                op,
                set,
                sreg_key,
                sreg_data,
                timeout_ms,
            } => {
                let o = ["add", "update", "delete"][*op as usize];
                write!(f, "dynset {o} reg_key {sreg_key} set {set}")?;
                if let Some(d) = sreg_data {
                    write!(f, " sreg_data {d}")?;
                }
                if let Some(t) = timeout_ms {
                    write!(f, " timeout {t}ms")?;
                }
            }
            Expr::Reject { kind, code } => write!(f, "reject type {kind} code {code}")?,
            Expr::Fib {
                dreg,
                result,
                flags,
            } => {
                let mut parts = vec![];
                for (bit, n) in [
                    (1, "saddr"),
                    (2, "daddr"),
                    (4, "mark"),
                    (8, "iif"),
                    (16, "oif"),
                ] {
                    if flags & bit != 0 {
                        parts.push(n);
                    }
                }
                let r = ["", "oif", "oifname", "type"]
                    .get(*result as usize)
                    .unwrap_or(&"?");
                write!(f, "fib {} {r} => reg {dreg}", parts.join(" . "))?
            }
        }
        write!(f, " ]")
    }
}
