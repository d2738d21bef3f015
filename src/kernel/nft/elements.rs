//! Netlink encoding of set elements and set userdata.

use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    DataAttribute, ListAttribute, SetElementAttribute, SetElementFlags, Verdict as NlVerdict,
    VerdictAttribute,
};

use super::model::{ElemData, Element, Set, SetData};
use super::types::{concat, DataType, Verdict};

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

fn verdict_attr(v: &Verdict) -> DataAttribute {
    let mut a = vec![VerdictAttribute::Code(NlVerdict::from(v.code()))];
    if let Some(c) = v.chain() {
        a.push(VerdictAttribute::Chain(c.to_string()));
    }
    DataAttribute::Verdict(a)
}

/// Big-endian increment; `None` on overflow (the range runs to the end).
fn successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut b = bytes.to_vec();
    for i in (0..b.len()).rev() {
        if b[i] == 0xff {
            b[i] = 0;
        } else {
            b[i] += 1;
            return Some(b);
        }
    }
    None
}

/// One element as netlink, expanded for the set's representation: a range in
/// a single-field interval set (rbtree) is a start element plus an
/// end-flagged element at end + 1; in a concatenated one (pipapo) a KEY_END.
pub(crate) fn element_attrs(
    s: &Set,
    e: &Element,
    delete: bool,
) -> Vec<ListAttribute<SetElementAttribute>> {
    let key = concat(&e.key);
    let mut first = vec![SetElementAttribute::Key(DataAttribute::Value(key.clone()))];
    let mut end_elem = None;
    let end = match &e.key_end {
        Some(end) => Some(concat(end)),
        None if s.interval => Some(key),
        None => None,
    };
    if let Some(end) = end {
        if s.key.len() > 1 {
            first.push(SetElementAttribute::KeyEnd(vec![DefaultNla::new(1, end)]));
        } else if let Some(after) = successor(&end) {
            end_elem = Some(vec![
                SetElementAttribute::Key(DataAttribute::Value(after)),
                SetElementAttribute::Flags(SetElementFlags::IntervalEnd),
            ]);
        }
    }
    if !delete {
        match &e.data {
            Some(ElemData::Value(v)) => {
                first.push(SetElementAttribute::Data(DataAttribute::Value(concat(v))))
            }
            Some(ElemData::Verdict(v)) => first.push(SetElementAttribute::Data(verdict_attr(v))),
            None => {}
        }
        if let Some(t) = e.timeout {
            first.push(SetElementAttribute::Timeout(t.as_millis() as u64));
        }
    }
    let mut out = vec![ListAttribute::Element(first)];
    out.extend(end_elem.map(ListAttribute::Element));
    out
}
