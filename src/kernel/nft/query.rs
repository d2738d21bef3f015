//! Reading nf_tables state outside any batch, including tables that are not
//! podnet's: the ruleset generation (`NFT_MSG_GETGEN`), one chain
//! (`NFT_MSG_GETCHAIN`) and the rules of one chain (`NFT_MSG_GETRULE` dump).
//! Requests and answers are plain netlink messages on the [`NftSocket`];
//! encoding and parsing are pure functions, for tests.
//!
//! Only the expressions podnet writes into foreign chains are decoded
//! (`meta` load, `cmp`, `counter`, `immediate`); any other expression of a
//! rule is reported by name in [`RuleInfo::opaque`].

use std::io;

use netlink_packet_core::{DefaultNla, Emitable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

use super::expr::{nla_str, CmpOp, Expr, ImmData};
use super::socket::{NftError, NftSocket};
use super::types::{Family, Policy, Verdict};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWCHAIN: u8 = 3;
const NFT_MSG_GETCHAIN: u8 = 4;
const NFT_MSG_NEWRULE: u8 = 6;
const NFT_MSG_GETRULE: u8 = 7;
const NFT_MSG_NEWGEN: u8 = 15;
const NFT_MSG_GETGEN: u8 = 16;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// How often a dump interrupted by a concurrent change is started again.
const DUMP_RETRIES: usize = 10;

/// A chain as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    pub table: String,
    pub name: String,
    pub handle: u64,
    /// `NF_INET_*` hook number and priority; `None` for a regular chain.
    pub hook: Option<(u32, i32)>,
    /// Base chains only.
    pub policy: Option<Policy>,
    /// `filter`, `nat`, `route` (base chains only).
    pub kind: Option<String>,
}

/// One rule as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub chain: String,
    pub handle: u64,
    /// The decoded expressions, in order (see [`RuleInfo::opaque`]).
    pub exprs: Vec<Expr>,
    /// Names of the expressions that were not decoded (left out of `exprs`).
    pub opaque: Vec<String>,
    /// `NFTA_RULE_USERDATA`, raw.
    pub userdata: Option<Vec<u8>>,
    /// The sets and maps the rule's `lookup` expressions name, in order (what `podnet trace`
    /// tells the rules of a chain apart by).
    pub sets: Vec<String>,
}

impl RuleInfo {
    /// The rule's comment: the `NFTNL_UDATA_RULE_COMMENT` TLV of its
    /// userdata (what `nft ... comment "X"` and iptables-nft's
    /// `-m comment --comment X` show).
    pub fn comment(&self) -> Option<String> {
        super::udata::comment_of(self.userdata.as_deref()?)
    }

    /// Whether the rule is exactly these expressions (counter values ignored).
    pub fn is(&self, exprs: &[Expr]) -> bool {
        self.opaque.is_empty() && self.exprs == exprs
    }
}

// ---- encoding ------------------------------------------------------------

/// One nfnetlink request: header, `nfgenmsg` and attributes.
pub fn encode_request(msg: u8, nfproto: u8, flags: u16, seq: u32, attrs: &[DefaultNla]) -> Vec<u8> {
    let len = 16 + 4 + attrs.buffer_len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | u16::from(msg)).to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version NFNETLINK_V0, res_id (big endian, 0).
    out.extend_from_slice(&[nfproto, 0, 0, 0]);
    let start = out.len();
    out.resize(len, 0);
    attrs.emit(&mut out[start..]);
    out
}

// ---- parsing -------------------------------------------------------------

/// One netlink message of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    /// Everything after the netlink header.
    pub body: Vec<u8>,
}

/// Splits a datagram into netlink messages. Pure.
pub fn split_messages(mut buf: &[u8]) -> Vec<Answer> {
    let mut out = vec![];
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        out.push(Answer {
            ty: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes(buf[8..12].try_into().unwrap()),
            body: buf[16..len].to_vec(),
        });
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

/// The attributes in `buf` as (type without flags, value). Pure.
pub fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = vec![];
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

fn be_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

fn be_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

pub(super) fn string(v: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(v)).into_owned()
}

/// A string attribute's bytes before its NUL.
pub(super) fn until_nul(v: &[u8]) -> &[u8] {
    v.split(|b| *b == 0).next().unwrap_or(v)
}

pub(super) fn find(list: &[(u16, &[u8])], kind: u16) -> Option<Vec<u8>> {
    list.iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v.to_vec())
}

/// The value of the first attribute `kind` in `buf`, before any malformed one. Pure.
pub(super) fn attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf)
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v)
}

/// A `NEWCHAIN` message body (after the netlink header). Pure.
pub fn parse_chain(body: &[u8]) -> Option<ChainInfo> {
    let a = attrs(body.get(4..)?);
    let hook = find(&a, 4).and_then(|h| {
        let h = attrs(&h)
            .into_iter()
            .map(|(k, v)| (k, v.to_vec()))
            .collect::<Vec<_>>();
        let num = h
            .iter()
            .find(|(k, _)| *k == 1)
            .and_then(|(_, v)| be_u32(v))?;
        let prio = h
            .iter()
            .find(|(k, _)| *k == 2)
            .and_then(|(_, v)| be_u32(v))?;
        Some((num, prio as i32))
    });
    let policy = find(&a, 5).and_then(|v| be_u32(&v)).map(|p| {
        if p == Policy::Drop.code() {
            Policy::Drop
        } else {
            Policy::Accept
        }
    });
    Some(ChainInfo {
        table: string(&find(&a, 1)?),
        name: string(&find(&a, 3)?),
        handle: find(&a, 2).and_then(|v| be_u64(&v)).unwrap_or(0),
        hook,
        policy,
        kind: find(&a, 7).map(|v| string(&v)),
    })
}

/// `NFTA_DATA_VALUE` or `NFTA_DATA_VERDICT` nested in `data`.
fn parse_data(data: &[u8]) -> Option<ImmData> {
    let a = attrs(data);
    if let Some(v) = find(&a, 1) {
        return Some(ImmData::Value(v));
    }
    let v = find(&a, 2)?;
    let v = attrs(&v);
    let code = be_u32(&find(&v, 1)?)? as i32;
    let chain = find(&v, 2).map(|c| string(&c));
    Some(ImmData::Verdict(match (code, chain) {
        (0, _) => Verdict::Drop,
        (1, _) => Verdict::Accept,
        (-1, _) => Verdict::Continue,
        (-5, _) => Verdict::Return,
        (-3, Some(c)) => Verdict::Jump(c),
        (-4, Some(c)) => Verdict::Goto(c),
        _ => return None,
    }))
}

/// One expression podnet knows how to compare; `None` for any other.
fn parse_expr(name: &str, data: &[u8]) -> Option<Expr> {
    let a = attrs(data);
    let u32_of = |k| find(&a, k).and_then(|v| be_u32(&v));
    Some(match name {
        "counter" => Expr::Counter,
        // A meta *load* (a `meta set` has SREG instead of DREG).
        "meta" => Expr::Meta {
            dreg: u32_of(1)?,
            key: u32_of(2)?,
        },
        "cmp" => {
            let op = match u32_of(2)? {
                0 => CmpOp::Eq,
                1 => CmpOp::Neq,
                2 => CmpOp::Lt,
                3 => CmpOp::Lte,
                4 => CmpOp::Gt,
                5 => CmpOp::Gte,
                _ => return None,
            };
            let ImmData::Value(data) = parse_data(&find(&a, 3)?)? else {
                return None;
            };
            Expr::Cmp {
                sreg: u32_of(1)?,
                op,
                data,
            }
        }
        "immediate" => Expr::Immediate {
            dreg: u32_of(1)?,
            data: parse_data(&find(&a, 2)?)?,
        },
        _ => return None,
    })
}

/// A `NEWRULE` message body (after the netlink header). Pure.
pub fn parse_rule(body: &[u8]) -> Option<RuleInfo> {
    let a = attrs(body.get(4..)?);
    let mut exprs = vec![];
    let mut opaque = vec![];
    let mut sets = vec![];
    if let Some(list) = find(&a, 4) {
        for (kind, elem) in attrs(&list) {
            if kind != 1 {
                continue; // NFTA_LIST_ELEM
            }
            let e = attrs(elem);
            let name = find(&e, 1).map(|n| string(&n)).unwrap_or_default();
            let data = find(&e, 2).unwrap_or_default();
            if name == "lookup" {
                // NFTA_LOOKUP_SET
                if let Some(set) = find(&attrs(&data), 1) {
                    sets.push(string(&set));
                }
            }
            match parse_expr(&name, &data) {
                Some(x) => exprs.push(x),
                None => opaque.push(name),
            }
        }
    }
    Some(RuleInfo {
        chain: string(&find(&a, 2)?),
        handle: be_u64(&find(&a, 3)?)?,
        exprs,
        opaque,
        userdata: find(&a, 7),
        sets,
    })
}

// ---- requests ------------------------------------------------------------

/// Sends one request and collects the messages that answer it, up to the
/// ack (`NLM_F_ACK`) or the end of the dump. Returns them and whether the
/// dump was interrupted by a concurrent change (`NLM_F_DUMP_INTR`).
pub(super) fn exchange(
    sock: &mut NftSocket,
    what: &str,
    msg: u8,
    nfproto: u8,
    flags: u16,
    a: &[DefaultNla],
) -> Result<(Vec<Answer>, bool), NftError> {
    let err = |source: io::Error| NftError::Query {
        what: what.to_string(),
        source,
    };
    let (raw, seq) = sock.raw(1);
    let bytes = encode_request(msg, nfproto, NLM_F_REQUEST | flags, seq, a);
    let sent = raw.send(&bytes, 0).map_err(err)?;
    if sent != bytes.len() {
        return Err(err(io::Error::new(io::ErrorKind::WriteZero, "short send")));
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = vec![];
    let mut interrupted = false;
    loop {
        let n = match raw.recv(&mut &mut buf[..], 0) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        for m in split_messages(&buf[..n]) {
            if m.seq != seq {
                continue; // a late answer to something earlier
            }
            interrupted |= m.flags & NLM_F_DUMP_INTR != 0;
            match m.ty {
                NLMSG_ERROR | NLMSG_DONE => {
                    let code = m
                        .body
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap()));
                    if code != 0 {
                        return Err(err(io::Error::from_raw_os_error(-code)));
                    }
                    return Ok((out, interrupted));
                }
                _ => out.push(m),
            }
        }
    }
}

pub(super) fn nftables_type(ty: u16, msg: u8) -> bool {
    ty == (NFNL_SUBSYS_NFTABLES << 8) | u16::from(msg)
}

/// The ruleset generation: changes with every committed transaction.
pub fn generation(sock: &mut NftSocket) -> Result<u32, NftError> {
    let (answers, _) = exchange(sock, "get generation", NFT_MSG_GETGEN, 0, NLM_F_ACK, &[])?;
    answers
        .iter()
        .filter(|m| nftables_type(m.ty, NFT_MSG_NEWGEN))
        .find_map(|m| be_u32(&find(&attrs(m.body.get(4..)?), 1)?))
        .ok_or_else(|| NftError::Query {
            what: "get generation".into(),
            source: io::Error::new(io::ErrorKind::InvalidData, "no NFTA_GEN_ID in the answer"),
        })
}

/// One chain, or `None` if its table or the chain does not exist.
pub fn get_chain(
    sock: &mut NftSocket,
    family: Family,
    table: &str,
    chain: &str,
) -> Result<Option<ChainInfo>, NftError> {
    let what = format!("get chain {} {table} {chain}", family.name());
    let a = [nla_str(1, table), nla_str(3, chain)];
    match exchange(
        sock,
        &what,
        NFT_MSG_GETCHAIN,
        family.nfproto(),
        NLM_F_ACK,
        &a,
    ) {
        Ok((answers, _)) => Ok(answers
            .iter()
            .filter(|m| nftables_type(m.ty, NFT_MSG_NEWCHAIN))
            .find_map(|m| parse_chain(&m.body))),
        Err(NftError::Query { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Every rule of one chain, in chain order (empty if the table or chain does
/// not exist). A dump that a concurrent change interrupted is started again.
pub fn list_rules(
    sock: &mut NftSocket,
    family: Family,
    table: &str,
    chain: &str,
) -> Result<Vec<RuleInfo>, NftError> {
    let what = format!("list rules of {} {table} {chain}", family.name());
    let a = [nla_str(1, table), nla_str(2, chain)];
    for _ in 0..DUMP_RETRIES {
        let (answers, interrupted) = match exchange(
            sock,
            &what,
            NFT_MSG_GETRULE,
            family.nfproto(),
            NLM_F_DUMP,
            &a,
        ) {
            Ok(r) => r,
            Err(NftError::Query { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                return Ok(vec![])
            }
            Err(e) => return Err(e),
        };
        if interrupted {
            continue;
        }
        return Ok(answers
            .iter()
            .filter(|m| nftables_type(m.ty, NFT_MSG_NEWRULE))
            .filter_map(|m| parse_rule(&m.body))
            // Older kernels ignore the chain filter of a dump.
            .filter(|r| r.chain == chain)
            .collect());
    }
    Err(NftError::Query {
        what,
        source: io::Error::new(
            io::ErrorKind::Interrupted,
            "the ruleset kept changing during the dump",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::expr::{nla_nest, nla_u64};

    fn rule_body(userdata: Option<&[u8]>, exprs: &[Expr]) -> Vec<u8> {
        let list: Vec<DefaultNla> = exprs
            .iter()
            .map(|e| {
                let data = nla_nest(2, &e.attributes());
                nla_nest(1, &[nla_str(1, e.name()), data])
            })
            .collect();
        let mut a = vec![
            nla_str(1, "filter"),
            nla_str(2, "FORWARD"),
            nla_u64(3, 42),
            nla_nest(4, &list),
        ];
        if let Some(u) = userdata {
            a.push(DefaultNla::new(7, u.to_vec()));
        }
        // Parsed from the answer body: nfgenmsg then attributes.
        encode_request(NFT_MSG_NEWRULE, 2, 0, 1, &a)[16..].to_vec()
    }

    #[test]
    fn parses_a_rule_with_comment_and_known_expressions() {
        let exprs = vec![
            Expr::Meta { key: 6, dreg: 1 },
            Expr::Cmp {
                sreg: 1,
                op: CmpOp::Eq,
                data: b"br0\0".to_vec(),
            },
            Expr::Counter,
            Expr::Immediate {
                dreg: 0,
                data: ImmData::Verdict(Verdict::Jump("DOCKER-USER".into())),
            },
            Expr::Masq,
        ];
        let r = parse_rule(&rule_body(Some(b"\x01\x02ab\x00\x07podnet\x00"), &exprs)).unwrap();
        assert_eq!(r.chain, "FORWARD");
        assert_eq!(r.handle, 42);
        assert_eq!(r.exprs, exprs[..4].to_vec());
        assert_eq!(r.opaque, vec!["masq".to_string()]);
        assert_eq!(r.comment().as_deref(), Some("podnet"));
        assert!(!r.is(&exprs[..4]), "an opaque expression never matches");
    }

    #[test]
    fn truncated_or_odd_input_does_not_panic() {
        let body = rule_body(Some(b"\x00\x09podnet"), &[Expr::Counter]);
        let r = parse_rule(&body).unwrap();
        assert_eq!(r.comment(), None, "TLV longer than the userdata");
        for n in 0..body.len() {
            let _ = parse_rule(&body[..n]);
            let _ = parse_chain(&body[..n]);
            let _ = split_messages(&body[..n]);
        }
        assert_eq!(parse_rule(&[]), None);
    }
}
