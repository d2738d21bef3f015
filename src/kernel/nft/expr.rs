//! Kernel-level nf_tables expressions (the register machine) and their
//! netlink encoding. `Display` prints the same text as `nft --debug=netlink`
//! so tests can compare against nft's own view of a rule.

use netlink_packet_core::{DefaultNla, Emitable, NLA_F_NESTED};
use netlink_packet_netfilter::nftables::{ExpressionAttribute, Expressions, ListAttribute};

use super::types::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    Link = 0,
    Network = 1,
    Transport = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq = 0,
    Neq = 1,
    Lt = 2,
    Lte = 3,
    Gt = 4,
    Gte = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    Snat = 0,
    Dnat = 1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynsetOp {
    Add = 0,
    Update = 1,
    Delete = 2,
}

/// Immediate data: a verdict (into the verdict register) or raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImmData {
    Verdict(Verdict),
    Value(Vec<u8>),
}

/// One kernel expression. Registers use the kernel numbering: 0 is the
/// verdict register, 1..=4 the 128-bit registers, 8..=23 the 32-bit ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Payload {
        base: PayloadBase,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    Meta {
        key: u32,
        dreg: u32,
    },
    Ct {
        key: u32,
        original: Option<bool>,
        dreg: u32,
    },
    Cmp {
        sreg: u32,
        op: CmpOp,
        data: Vec<u8>,
    },
    Bitwise {
        sreg: u32,
        dreg: u32,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    Lookup {
        set: String,
        /// Batch-wide id of an anonymous set created in the same batch.
        set_id: Option<u32>,
        sreg: u32,
        dreg: Option<u32>,
        invert: bool,
    },
    Immediate {
        dreg: u32,
        data: ImmData,
    },
    Counter,
    Nat {
        kind: NatKind,
        nfproto: u8,
        addr: Option<u32>,
        proto: Option<u32>,
        flags: u32,
    },
    Masq,
    /// `meta set <key> with reg`.
    MetaSet {
        key: u32,
        sreg: u32,
    },
    /// `payload write reg => len @ base + offset` (no checksum update).
    PayloadWrite {
        base: PayloadBase,
        offset: u32,
        len: u32,
        sreg: u32,
    },
    /// `fwd sreg_dev`: hand the packet to the device whose index is in the register
    /// (netdev family).
    Fwd {
        sreg_dev: u32,
    },
    Numgen {
        dreg: u32,
        modulus: u32,
        offset: u32,
    },
    Dynset {
        op: DynsetOp,
        set: String,
        sreg_key: u32,
        sreg_data: Option<u32>,
        timeout_ms: Option<u64>,
    },
    Reject {
        kind: u32,
        code: u8,
    },
    Fib {
        dreg: u32,
        result: u32,
        flags: u32,
    },
}

pub(crate) fn nla_u32(kind: u16, v: u32) -> DefaultNla {
    DefaultNla::new(kind, v.to_be_bytes().to_vec())
}

pub(crate) fn nla_u64(kind: u16, v: u64) -> DefaultNla {
    DefaultNla::new(kind, v.to_be_bytes().to_vec())
}

pub(crate) fn nla_str(kind: u16, s: &str) -> DefaultNla {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    DefaultNla::new(kind, b)
}

pub(crate) fn nla_nest(kind: u16, inner: &[DefaultNla]) -> DefaultNla {
    let mut buf = vec![0u8; inner.buffer_len()];
    inner.emit(&mut buf);
    DefaultNla::new(kind | NLA_F_NESTED, buf)
}

/// `NFTA_DATA_VALUE` or `NFTA_DATA_VERDICT` nested inside `kind`.
pub(crate) fn nla_data(kind: u16, data: &ImmData) -> DefaultNla {
    match data {
        ImmData::Value(v) => nla_nest(kind, &[DefaultNla::new(1, v.clone())]),
        ImmData::Verdict(v) => {
            let mut attrs = vec![nla_u32(1, v.code())];
            if let Some(chain) = v.chain() {
                attrs.push(nla_str(2, chain));
            }
            nla_nest(kind, &[nla_nest(2, &attrs)])
        }
    }
}

impl Expr {
    pub fn name(&self) -> &'static str {
        match self {
            Expr::Payload { .. } => "payload",
            Expr::Meta { .. } => "meta",
            Expr::Ct { .. } => "ct",
            Expr::Cmp { .. } => "cmp",
            Expr::Bitwise { .. } => "bitwise",
            Expr::Lookup { .. } => "lookup",
            Expr::Immediate { .. } => "immediate",
            Expr::Counter => "counter",
            Expr::Nat { .. } => "nat",
            Expr::Masq => "masq",
            Expr::MetaSet { .. } => "meta",
            Expr::PayloadWrite { .. } => "payload",
            Expr::Fwd { .. } => "fwd",
            Expr::Numgen { .. } => "numgen",
            Expr::Dynset { .. } => "dynset",
            Expr::Reject { .. } => "reject",
            Expr::Fib { .. } => "fib",
        }
    }

    /// The `NFTA_EXPR_DATA` attributes (uapi `nf_tables.h` numbering).
    pub fn attributes(&self) -> Vec<DefaultNla> {
        match self {
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => vec![
                nla_u32(1, *dreg),
                nla_u32(2, *base as u32),
                nla_u32(3, *offset),
                nla_u32(4, *len),
            ],
            Expr::Meta { key, dreg } => vec![nla_u32(1, *dreg), nla_u32(2, *key)],
            Expr::Ct {
                key,
                original,
                dreg,
            } => {
                let mut a = vec![nla_u32(1, *dreg), nla_u32(2, *key)];
                if let Some(orig) = original {
                    a.push(DefaultNla::new(3, vec![u8::from(!orig)]));
                }
                a
            }
            Expr::Cmp { sreg, op, data } => vec![
                nla_u32(1, *sreg),
                nla_u32(2, *op as u32),
                nla_data(3, &ImmData::Value(data.clone())),
            ],
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => vec![
                nla_u32(1, *sreg),
                nla_u32(2, *dreg),
                nla_u32(3, mask.len() as u32),
                nla_data(4, &ImmData::Value(mask.clone())),
                nla_data(5, &ImmData::Value(xor.clone())),
            ],
            Expr::Lookup {
                set,
                set_id,
                sreg,
                dreg,
                invert,
            } => {
                let mut a = vec![nla_str(1, set), nla_u32(2, *sreg)];
                if let Some(id) = set_id {
                    a.push(nla_u32(4, *id));
                }
                if let Some(d) = dreg {
                    a.push(nla_u32(3, *d));
                }
                if *invert {
                    a.push(nla_u32(5, 1));
                }
                a
            }
            Expr::Immediate { dreg, data } => vec![nla_u32(1, *dreg), nla_data(2, data)],
            Expr::Counter => vec![nla_u64(1, 0), nla_u64(2, 0)],
            Expr::Nat {
                kind,
                nfproto,
                addr,
                proto,
                flags,
            } => {
                let mut a = vec![nla_u32(1, *kind as u32), nla_u32(2, u32::from(*nfproto))];
                if let Some(r) = addr {
                    a.push(nla_u32(3, *r));
                }
                if let Some(r) = proto {
                    a.push(nla_u32(5, *r));
                }
                if *flags != 0 {
                    a.push(nla_u32(7, *flags));
                }
                a
            }
            Expr::Masq => vec![],
            // NFTA_META_KEY 2, NFTA_META_SREG 3.
            Expr::MetaSet { key, sreg } => vec![nla_u32(2, *key), nla_u32(3, *sreg)],
            // NFTA_PAYLOAD_BASE 2, OFFSET 3, LEN 4, SREG 5, CSUM_TYPE 6 (none).
            Expr::PayloadWrite {
                base,
                offset,
                len,
                sreg,
            } => vec![
                nla_u32(5, *sreg),
                nla_u32(2, *base as u32),
                nla_u32(3, *offset),
                nla_u32(4, *len),
                nla_u32(6, 0),
            ],
            // NFTA_FWD_SREG_DEV 1.
            Expr::Fwd { sreg_dev } => vec![nla_u32(1, *sreg_dev)],
            Expr::Numgen {
                dreg,
                modulus,
                offset,
            } => {
                // type 1 = NFT_NG_RANDOM; podnet never needs incremental.
                let mut a = vec![nla_u32(1, *dreg), nla_u32(2, *modulus), nla_u32(3, 1)];
                if *offset != 0 {
                    a.push(nla_u32(4, *offset));
                }
                a
            }
            Expr::Dynset {
                op,
                set,
                sreg_key,
                sreg_data,
                timeout_ms,
            } => {
                let mut a = vec![
                    nla_str(1, set),
                    nla_u32(3, *op as u32),
                    nla_u32(4, *sreg_key),
                ];
                if let Some(d) = sreg_data {
                    a.push(nla_u32(5, *d));
                }
                if let Some(t) = timeout_ms {
                    a.push(nla_u64(6, *t));
                }
                a
            }
            Expr::Reject { kind, code } => vec![nla_u32(1, *kind), DefaultNla::new(2, vec![*code])],
            Expr::Fib {
                dreg,
                result,
                flags,
            } => {
                vec![nla_u32(1, *dreg), nla_u32(2, *result), nla_u32(3, *flags)]
            }
        }
    }

    /// One `NFTA_LIST_ELEM` of a rule's `NFTA_RULE_EXPRESSIONS`.
    pub fn to_list_attribute(&self) -> ListAttribute<ExpressionAttribute> {
        ListAttribute::Element(vec![
            ExpressionAttribute::Name(self.name().to_string()),
            ExpressionAttribute::Data(Expressions::Other {
                expression_type: self.name().to_string(),
                attributes: self.attributes(),
            }),
        ])
    }
}
