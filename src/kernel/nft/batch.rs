//! A list of changes that becomes one nfnetlink batch: BATCH_BEGIN, the
//! messages, BATCH_END, sent in a single `sendmsg` so the kernel commits all
//! of them or none. Encoding is pure and needs no kernel.

use netlink_packet_core::{
    DefaultNla, Emitable, NetlinkMessage, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, DataAttribute, Hook, HookNumber, ListAttribute, NfTablesMessage,
    RuleAttribute, RuleMessage, SetAttribute, SetDescription, SetElementAttribute, SetElementFlags,
    SetElementList, SetElementMessage, SetFlags, SetMessage, TableAttribute, TableMessage,
    Verdict as NlVerdict, VerdictAttribute,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use super::expr::{nla_nest, nla_u32};
use super::model::{Chain, ElemData, Element, Rule, Set, SetData, Table};
use super::stmt::render;
use super::types::{concat, concat_len, concat_type, DataType, Verdict, DATA_VERDICT};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// The netlink attribute length field is 16 bits; keep element lists well below.
const MAX_ELEMS_BYTES: usize = 48 * 1024;

#[derive(Debug, Clone)]
struct Msg {
    nfproto: u8,
    flags: u16,
    body: NfTablesMessage,
    what: String,
}

/// An ordered list of nf_tables changes applied as one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    msgs: Vec<Msg>,
    next_set_id: u32,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Human description of message `i` (for error reports).
    pub fn describe(&self, i: usize) -> &str {
        self.msgs.get(i).map_or("?", |m| m.what.as_str())
    }

    fn push(&mut self, t: &Table, flags: u16, body: NfTablesMessage, what: String) {
        let what = format!("{what} in table {} {}", t.family.name(), t.name);
        self.msgs.push(Msg {
            nfproto: t.family.nfproto(),
            flags,
            body,
            what,
        });
    }

    /// `add table`: creates it, or does nothing if it exists.
    pub fn add_table(&mut self, t: &Table) {
        let attrs = vec![TableAttribute::Name(t.name.clone())];
        self.push(
            t,
            NLM_F_CREATE,
            NfTablesMessage::NewTable(TableMessage { attributes: attrs }),
            "add table".into(),
        );
    }

    pub fn delete_table(&mut self, t: &Table) {
        let attrs = vec![TableAttribute::Name(t.name.clone())];
        self.push(
            t,
            0,
            NfTablesMessage::DeleteTable(TableMessage { attributes: attrs }),
            "delete table".into(),
        );
    }

    /// `flush table`: deletes every rule of the table; chains, sets and elements stay.
    pub fn flush_table(&mut self, t: &Table) {
        let attrs = vec![RuleAttribute::Table(t.name.clone())];
        self.push(
            t,
            0,
            NfTablesMessage::DeleteRule(RuleMessage { attributes: attrs }),
            "flush table".into(),
        );
    }

    pub fn add_chain(&mut self, t: &Table, c: &Chain) {
        let mut attrs = vec![
            ChainAttribute::Table(t.name.clone()),
            ChainAttribute::Name(c.name.clone()),
        ];
        if let Some(b) = &c.base {
            attrs.push(ChainAttribute::Hook(vec![
                Hook::Number(HookNumber::Other(b.hook.number())),
                Hook::Priority(b.priority as u32),
            ]));
            attrs.push(ChainAttribute::Policy(b.policy.code()));
            attrs.push(ChainAttribute::Type(b.kind.name().to_string()));
        }
        let what = format!("add chain {}", c.name);
        self.push(
            t,
            NLM_F_CREATE,
            NfTablesMessage::NewChain(ChainMessage { attributes: attrs }),
            what,
        );
    }

    pub fn delete_chain(&mut self, t: &Table, name: &str) {
        let attrs = vec![
            ChainAttribute::Table(t.name.clone()),
            ChainAttribute::Name(name.into()),
        ];
        let what = format!("delete chain {name}");
        self.push(
            t,
            0,
            NfTablesMessage::DeleteChain(ChainMessage { attributes: attrs }),
            what,
        );
    }

    pub fn flush_chain(&mut self, t: &Table, name: &str) {
        let attrs = vec![
            RuleAttribute::Table(t.name.clone()),
            RuleAttribute::Chain(name.into()),
        ];
        let what = format!("flush chain {name}");
        self.push(
            t,
            0,
            NfTablesMessage::DeleteRule(RuleMessage { attributes: attrs }),
            what,
        );
    }

    pub fn add_set(&mut self, t: &Table, s: &Set) {
        let mut flags = SetFlags::empty();
        let mut attrs = vec![
            SetAttribute::Table(t.name.clone()),
            SetAttribute::Name(s.name.clone()),
            SetAttribute::KeyType(concat_type(&s.key)),
            SetAttribute::KeyLen(concat_len(&s.key)),
        ];
        match &s.data {
            None => {}
            Some(SetData::Verdict) => {
                flags |= SetFlags::Map;
                attrs.push(SetAttribute::DataType(DATA_VERDICT));
                attrs.push(SetAttribute::DataLen(16));
            }
            Some(SetData::Value(v)) => {
                flags |= SetFlags::Map;
                attrs.push(SetAttribute::DataType(concat_type(v)));
                attrs.push(SetAttribute::DataLen(concat_len(v)));
            }
        }
        flags.set(SetFlags::Interval, s.interval);
        flags.set(SetFlags::Eval, s.dynamic);
        flags.set(SetFlags::Timeout, s.timeout_flag || s.timeout.is_some());
        let mut desc = vec![];
        if let Some(n) = s.size {
            desc.push(SetDescription::Size(n));
        }
        if s.interval && s.key.len() > 1 {
            // Interval concatenations (pipapo) need each field's length.
            flags |= SetFlags::Concat;
            let fields = s
                .key
                .iter()
                .map(|f| nla_nest(1, &[nla_u32(1, f.byte_len())]))
                .collect();
            desc.push(SetDescription::Concat(fields));
        }
        attrs.insert(2, SetAttribute::Flags(flags));
        if !desc.is_empty() {
            attrs.push(SetAttribute::Description(desc));
        }
        if let Some(to) = s.timeout {
            attrs.push(SetAttribute::Timeout(to.as_millis() as u64));
        }
        attrs.push(SetAttribute::UserData(set_userdata(s)));
        self.next_set_id += 1;
        attrs.push(SetAttribute::Id(self.next_set_id));
        let what = format!("add set {}", s.name);
        self.push(
            t,
            NLM_F_CREATE,
            NfTablesMessage::NewSet(SetMessage { attributes: attrs }),
            what,
        );
    }

    pub fn delete_set(&mut self, t: &Table, name: &str) {
        let attrs = vec![
            SetAttribute::Table(t.name.clone()),
            SetAttribute::Name(name.into()),
        ];
        let what = format!("delete set {name}");
        self.push(
            t,
            0,
            NfTablesMessage::DeleteSet(SetMessage { attributes: attrs }),
            what,
        );
    }

    /// `flush set`: removes every element.
    pub fn flush_set(&mut self, t: &Table, name: &str) {
        let attrs = vec![
            SetElementList::Table(t.name.clone()),
            SetElementList::Set(name.into()),
        ];
        let what = format!("flush set {name}");
        self.push(
            t,
            0,
            NfTablesMessage::DeleteSetElement(SetElementMessage { attributes: attrs }),
            what,
        );
    }

    pub fn add_rule(&mut self, t: &Table, r: &Rule) {
        let exprs = render(&r.stmts)
            .iter()
            .map(|e| e.to_list_attribute())
            .collect();
        let mut attrs = vec![
            RuleAttribute::Table(t.name.clone()),
            RuleAttribute::Chain(r.chain.clone()),
            RuleAttribute::Expressions(exprs),
        ];
        if let Some(c) = &r.comment {
            // libnftnl userdata TLV: NFTNL_UDATA_RULE_COMMENT (0), length, NUL-terminated text.
            let mut ud = vec![0u8, (c.len() + 1).min(255) as u8];
            ud.extend_from_slice(&c.as_bytes()[..c.len().min(254)]);
            ud.push(0);
            attrs.push(RuleAttribute::UserData(ud));
        }
        let what = format!("add rule to chain {}", r.chain);
        self.push(
            t,
            NLM_F_CREATE | NLM_F_APPEND,
            NfTablesMessage::NewRule(RuleMessage { attributes: attrs }),
            what,
        );
    }

    pub fn add_elements(&mut self, t: &Table, s: &Set, elems: &[Element]) {
        self.elements(t, s, elems, false);
    }

    /// Deletes elements by key (values and timeouts are ignored).
    pub fn delete_elements(&mut self, t: &Table, s: &Set, elems: &[Element]) {
        self.elements(t, s, elems, true);
    }

    fn elements(&mut self, t: &Table, s: &Set, elems: &[Element], delete: bool) {
        let mut chunk: Vec<ListAttribute<SetElementAttribute>> = vec![];
        let mut bytes = 0;
        for e in elems {
            for nl in element_attrs(s, e, delete) {
                let len = nl.buffer_len();
                if bytes + len > MAX_ELEMS_BYTES && !chunk.is_empty() {
                    self.push_elements(t, s, std::mem::take(&mut chunk), delete);
                    bytes = 0;
                }
                bytes += len;
                chunk.push(nl);
            }
        }
        if !chunk.is_empty() {
            self.push_elements(t, s, chunk, delete);
        }
    }

    fn push_elements(
        &mut self,
        t: &Table,
        s: &Set,
        list: Vec<ListAttribute<SetElementAttribute>>,
        delete: bool,
    ) {
        let n = list.len();
        let attrs = vec![
            SetElementList::Table(t.name.clone()),
            SetElementList::Set(s.name.clone()),
            SetElementList::Elements(list),
        ];
        let msg = SetElementMessage { attributes: attrs };
        if delete {
            let what = format!("delete {n} elements from set {}", s.name);
            self.push(t, 0, NfTablesMessage::DeleteSetElement(msg), what);
        } else {
            let what = format!("add {n} elements to set {}", s.name);
            self.push(t, NLM_F_CREATE, NfTablesMessage::NewSetElement(msg), what);
        }
    }

    /// The whole transaction as bytes; message `i` gets sequence `seq + 1 + i`
    /// and asks for an ack, BEGIN and END get `seq` and `seq + len + 1`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * (self.msgs.len() + 2));
        let ctl = |c: ControlMessage, s: u32, out: &mut Vec<u8>| {
            let hdr = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES);
            emit(NetfilterMessage::new(hdr, c), NLM_F_REQUEST, s, out);
        };
        ctl(ControlMessage::BatchBegin, seq, &mut out);
        for (i, m) in self.msgs.iter().enumerate() {
            let hdr = NetfilterHeader::new(NetfilterProtoFamily::from(m.nfproto), 0, 0);
            let msg = NetfilterMessage::new(hdr, m.body.clone());
            emit(
                msg,
                NLM_F_REQUEST | NLM_F_ACK | m.flags,
                seq + 1 + i as u32,
                &mut out,
            );
        }
        ctl(
            ControlMessage::BatchEnd,
            seq + 1 + self.msgs.len() as u32,
            &mut out,
        );
        out
    }
}

fn emit(msg: NetfilterMessage, flags: u16, seq: u32, out: &mut Vec<u8>) {
    let mut nl = NetlinkMessage::from(msg);
    nl.header.flags = flags;
    nl.header.sequence_number = seq;
    nl.finalize();
    let start = out.len();
    out.resize(start + nl.buffer_len(), 0);
    nl.serialize(&mut out[start..]);
}

/// libnftnl set userdata: the byte order nft should print keys and values
/// in (TLVs `NFTNL_UDATA_SET_KEYBYTEORDER` = 0 and `..._DATABYTEORDER` = 1;
/// values 1 host, 2 big endian). Without it `nft list` shows interface names
/// as empty strings. Concatenations carry no byte order.
fn set_userdata(s: &Set) -> Vec<u8> {
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
fn element_attrs(s: &Set, e: &Element, delete: bool) -> Vec<ListAttribute<SetElementAttribute>> {
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
