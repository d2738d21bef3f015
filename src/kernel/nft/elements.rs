//! Netlink encoding of set elements (written straight into a message buffer, see
//! [`super::wire`]) and set userdata.

use super::model::{ElemData, Element, Set, SetData};
use super::types::{concat, concat_into, DataType, Value, Verdict};
use super::wire;

/// libnftnl set userdata: the byte order nft should print keys and values
/// in (TLVs `NFTNL_UDATA_SET_KEYBYTEORDER` = 0 and `..._DATABYTEORDER` = 1;
/// values 1 host, 2 big endian). Without it `nft list` shows interface names
/// as empty strings. Concatenations carry no byte order.
pub(crate) fn set_userdata(s: &Set) -> Vec<u8> {
    let order = |fields: &[DataType]| match fields {
        [DataType::IfName | DataType::Mark] => 1u32,
        [_] => 2,
        _ => 0,
    };
    let mut ud = vec![0, 4];
    ud.extend_from_slice(&order(&s.key).to_ne_bytes());
    if let Some(SetData::Value(v)) = &s.data {
        ud.extend_from_slice(&[1, 4]);
        ud.extend_from_slice(&order(v).to_ne_bytes());
    }
    ud
}

// uapi nf_tables.h: NFTA_LIST_ELEM, enum nft_set_elem_attributes, nft_data_attributes,
// nft_verdict_attributes, NFT_SET_ELEM_INTERVAL_END.
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;

/// `NFTA_DATA_VALUE` holding `values` concatenated, nested in `kind`.
fn put_value(out: &mut Vec<u8>, kind: u16, values: &[Value]) {
    let n = wire::begin(out);
    wire::put_with(out, NFTA_DATA_VALUE, |o| concat_into(values, o));
    wire::end(out, n, kind);
}

fn put_verdict(out: &mut Vec<u8>, kind: u16, v: &Verdict) {
    let data = wire::begin(out);
    let verdict = wire::begin(out);
    wire::put_u32(out, NFTA_VERDICT_CODE, v.code());
    if let Some(c) = v.chain() {
        wire::put_str(out, NFTA_VERDICT_CHAIN, c);
    }
    wire::end(out, verdict, NFTA_DATA_VERDICT);
    wire::end(out, data, kind);
}

/// Big-endian increment in place; false on overflow (the range runs to the end).
fn increment(b: &mut [u8]) -> bool {
    for byte in b.iter_mut().rev() {
        if *byte == 0xff {
            *byte = 0;
        } else {
            *byte += 1;
            return true;
        }
    }
    false
}

/// Writes one element as `NFTA_LIST_ELEM`s, expanded for the set's representation: a range
/// in a single-field interval set (rbtree) is a start element plus an end-flagged element at
/// end + 1; in a concatenated one (pipapo) a KEY_END. Returns where the second list element
/// starts, if there is one (element lists are split between messages at list elements).
pub(crate) fn put_element(out: &mut Vec<u8>, s: &Set, e: &Element, delete: bool) -> Option<usize> {
    let first = wire::begin(out);
    put_value(out, NFTA_SET_ELEM_KEY, &e.key);
    let end = match &e.key_end {
        Some(end) => Some(&end[..]),
        None if s.interval => Some(&e.key[..]),
        None => None,
    };
    let mut after = None;
    if let Some(end) = end {
        if s.key.len() > 1 {
            put_value(out, NFTA_SET_ELEM_KEY_END, end);
        } else {
            let mut b = concat(end);
            after = increment(&mut b).then_some(b);
        }
    }
    if !delete {
        match &e.data {
            Some(ElemData::Value(v)) => put_value(out, NFTA_SET_ELEM_DATA, v),
            Some(ElemData::Verdict(v)) => put_verdict(out, NFTA_SET_ELEM_DATA, v),
            None => {}
        }
        if let Some(t) = e.timeout {
            wire::put_u64(out, NFTA_SET_ELEM_TIMEOUT, t.as_millis() as u64);
        }
    }
    wire::end(out, first, NFTA_LIST_ELEM);
    let after = after?;
    let second = wire::begin(out);
    let key = wire::begin(out);
    wire::put(out, NFTA_DATA_VALUE, &after);
    wire::end(out, key, NFTA_SET_ELEM_KEY);
    wire::put_u32(out, NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    wire::end(out, second, NFTA_LIST_ELEM);
    Some(second)
}
