//! A list of changes that becomes one nfnetlink batch: BATCH_BEGIN, the
//! messages, BATCH_END, sent in a single `sendmsg` so the kernel commits all
//! of them or none. Encoding is pure and needs no kernel.
//!
//! Each message is encoded once, when it is added: element lists (nearly all of a large
//! batch) straight into their message's buffer (see [`super::wire`]), the few table, chain,
//! set and rule messages through `netlink-packet-netfilter`'s typed attributes. Sending
//! copies them into one buffer of the exact size and stamps the sequence numbers.

use netlink_packet_core::{
    NetlinkMessage, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook, HookNumber, NfTablesMessage, RuleAttribute, RuleMessage,
    SetAttribute, SetDescription, SetElementList, SetElementMessage, SetFlags, SetMessage,
    TableAttribute, TableMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use super::elements::{put_element, set_userdata};
use super::expr::Expr;
use super::expr::{nla_nest, nla_u32};
use super::model::{Chain, Element, Rule, Set, SetData, Table};
use super::stmt::{render_in, Stmt, ANON_SET_NAME};
use super::types::{concat_len, concat_type, DataType, Value, DATA_VERDICT};
use super::wire::{self, NLMSG_FLAGS, NLMSG_HDR, NLMSG_SEQ};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// The netlink attribute length field is 16 bits; keep element lists well below.
const MAX_ELEMS_BYTES: usize = 48 * 1024;
// uapi nf_tables.h: enum nf_tables_msg_types, enum nft_set_elem_list_attributes.
const NFT_MSG_DELTABLE: u8 = 2;
const NFT_MSG_DELCHAIN: u8 = 5;
const NFT_MSG_DELRULE: u8 = 8;
const NFT_MSG_DELSET: u8 = 11;
const NFT_MSG_NEWSETELEM: u8 = 12;
const NFT_MSG_DELSETELEM: u8 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;

#[derive(Debug, Clone)]
struct Msg {
    /// The whole netlink message, flags included, sequence number 0.
    bytes: Vec<u8>,
    /// The table an `add table` creates (what [`Batch::stamp_tables`] re-encodes).
    new_table: Option<String>,
    what: String,
}

impl Msg {
    /// `NFT_MSG_*` (the low byte of the netlink message type).
    fn kind(&self) -> u8 {
        self.bytes[4]
    }
}

/// An ordered list of nf_tables changes applied as one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    msgs: Vec<Msg>,
    next_set_id: u32,
    /// Ruleset generation the batch was planned against (`NFNL_BATCH_GENID`):
    /// the kernel refuses the whole batch with ERESTART if it has changed.
    genid: Option<u32>,
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

    /// Move `other`'s changes to the end of this batch, so that several planned changes go to
    /// the kernel as one transaction. Anonymous sets are numbered per batch, so at most one
    /// of the two may contain any.
    pub fn append(&mut self, other: Batch) {
        assert!(
            self.next_set_id == 0 || other.next_set_id == 0,
            "appending two batches that both create anonymous sets"
        );
        self.next_set_id = self.next_set_id.max(other.next_set_id);
        self.msgs.extend(other.msgs);
    }

    /// Whether applying this batch frees kernel objects (deletes or flushes anything). The
    /// kernel destroys those after an RCU grace period, and the final close of any netfilter
    /// socket in the namespace then waits for that (see `NftSocket::close_detached`).
    pub fn releases_objects(&self) -> bool {
        self.msgs.iter().any(|m| {
            matches!(
                m.kind(),
                NFT_MSG_DELTABLE
                    | NFT_MSG_DELCHAIN
                    | NFT_MSG_DELRULE
                    | NFT_MSG_DELSET
                    | NFT_MSG_DELSETELEM
            )
        })
    }

    /// Human description of message `i` (for error reports).
    pub fn describe(&self, i: usize) -> &str {
        self.msgs.get(i).map_or("?", |m| m.what.as_str())
    }

    fn push(&mut self, t: &Table, flags: u16, body: NfTablesMessage, what: String) {
        let new_table = match &body {
            NfTablesMessage::NewTable(_) => Some(t.name.clone()),
            _ => None,
        };
        let bytes = typed(t.family.nfproto(), flags, body);
        self.push_bytes(t, bytes, new_table, what);
    }

    fn push_bytes(&mut self, t: &Table, bytes: Vec<u8>, new_table: Option<String>, what: String) {
        let what = format!("{what} in table {} {}", t.family.name(), t.name);
        self.msgs.push(Msg {
            bytes,
            new_table,
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

    /// `add table` with these attributes (e.g. `NFTA_TABLE_FLAGS` with `NFT_TABLE_F_OWNER`:
    /// see [`super::trace`]); like [`Batch::add_table`] otherwise.
    pub fn add_table_with(&mut self, t: &Table, attrs: Vec<TableAttribute>) {
        self.push(
            t,
            NLM_F_CREATE,
            NfTablesMessage::NewTable(TableMessage { attributes: attrs }),
            "add table".into(),
        );
    }

    /// Stamp every table this batch adds with `userdata` (`NFTA_TABLE_USERDATA`; see
    /// [`super::udata`]). The kernel keeps a table's userdata from its creation and ignores it
    /// on an `add table` of a table that exists, so in a replace batch (add, delete, add) the
    /// re-created table carries it. With `exclusive`, the first `add table` of each table
    /// refuses an existing one (NLM_F_EXCL): the whole batch then fails with EEXIST, which is
    /// how a caller that saw no table makes sure nobody else made one in the meantime.
    pub fn stamp_tables(&mut self, userdata: &[u8], exclusive: bool) {
        let mut seen: Vec<(u8, String)> = Vec::new();
        for m in &mut self.msgs {
            let Some(name) = &m.new_table else {
                continue;
            };
            let nfproto = m.bytes[NLMSG_HDR];
            let key = (nfproto, name.clone());
            let mut flags = u16::from_ne_bytes([m.bytes[NLMSG_FLAGS], m.bytes[NLMSG_FLAGS + 1]]);
            if exclusive && !seen.contains(&key) {
                flags |= NLM_F_EXCL;
            }
            seen.push(key);
            let attrs = vec![
                TableAttribute::Name(name.clone()),
                TableAttribute::UserData(userdata.to_vec()),
            ];
            let body = NfTablesMessage::NewTable(TableMessage { attributes: attrs });
            m.bytes = typed(nfproto, flags, body);
        }
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
            let mut hook = vec![
                Hook::Number(HookNumber::Other(b.hook.number())),
                Hook::Priority(b.priority as u32),
            ];
            if let Some(dev) = &c.device {
                hook.push(Hook::NetDeviceName(dev.clone()));
            }
            attrs.push(ChainAttribute::Hook(hook));
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
        self.rule(t, r, true);
    }

    /// Like [`Batch::add_rule`], but the rule goes to the top of its chain
    /// (`nft insert rule`). Several inserted rules end up in reverse order.
    pub fn insert_rule(&mut self, t: &Table, r: &Rule) {
        self.rule(t, r, false);
    }

    /// Deletes one rule by its kernel handle.
    pub fn delete_rule(&mut self, t: &Table, chain: &str, handle: u64) {
        let attrs = vec![
            RuleAttribute::Table(t.name.clone()),
            RuleAttribute::Chain(chain.into()),
            RuleAttribute::Handle(handle),
        ];
        let what = format!("delete rule handle {handle} from chain {chain}");
        self.push(
            t,
            0,
            NfTablesMessage::DeleteRule(RuleMessage { attributes: attrs }),
            what,
        );
    }

    /// Makes the batch conditional on the ruleset generation `genid` (as read
    /// with [`super::query::generation`]): if anything changed the ruleset
    /// since, the kernel applies nothing and answers ERESTART.
    pub fn set_genid(&mut self, genid: u32) {
        self.genid = Some(genid);
    }

    fn rule(&mut self, t: &Table, r: &Rule, append: bool) {
        // Anonymous sets of the rule are created first, found by their
        // batch-wide id (the kernel names them itself).
        let first_id = self.next_set_id + 1;
        for stmt in &r.stmts {
            if let Stmt::InList { key, elements, .. } = stmt {
                let types = key.iter().filter_map(|k| k.data_type()).collect();
                self.add_anon_set(t, types, elements);
            }
        }
        let mut exprs = render_in(t.family, &r.stmts);
        for e in &mut exprs {
            if let Expr::Lookup {
                set_id: Some(local),
                ..
            } = e
            {
                *local += first_id;
            }
        }
        let exprs = exprs.iter().map(|e| e.to_list_attribute()).collect();
        let mut attrs = vec![
            RuleAttribute::Table(t.name.clone()),
            RuleAttribute::Chain(r.chain.clone()),
            RuleAttribute::Expressions(exprs),
        ];
        if let Some(c) = &r.comment {
            attrs.push(RuleAttribute::UserData(super::udata::comment(c)));
        }
        let (flags, verb) = if append {
            (NLM_F_CREATE | NLM_F_APPEND, "add")
        } else {
            (NLM_F_CREATE, "insert")
        };
        let what = format!("{verb} rule to chain {}", r.chain);
        self.push(
            t,
            flags,
            NfTablesMessage::NewRule(RuleMessage { attributes: attrs }),
            what,
        );
    }

    fn add_anon_set(&mut self, t: &Table, key: Vec<DataType>, elems: &[Vec<Value>]) {
        self.next_set_id += 1;
        let id = self.next_set_id;
        let set = Set::plain(ANON_SET_NAME, key);
        let attrs = vec![
            SetAttribute::Table(t.name.clone()),
            SetAttribute::Name(ANON_SET_NAME.into()),
            SetAttribute::Flags(SetFlags::Anonymous | SetFlags::Constant),
            SetAttribute::KeyType(concat_type(&set.key)),
            SetAttribute::KeyLen(concat_len(&set.key)),
            SetAttribute::Id(id),
            SetAttribute::UserData(set_userdata(&set)),
        ];
        let body = NfTablesMessage::NewSet(SetMessage { attributes: attrs });
        self.push(t, NLM_F_CREATE, body, "add anonymous set".into());
        let mut m = ElemMsg::begin(t, ANON_SET_NAME, Some(id), false);
        for k in elems {
            put_element(&mut m.bytes, &set, &Element::new(k.clone()), false);
        }
        let (bytes, _) = m.finish();
        self.push_bytes(t, bytes, None, "add anonymous set elements".into());
    }

    pub fn add_elements(&mut self, t: &Table, s: &Set, elems: &[Element]) {
        self.elements(t, s, elems, false);
    }

    /// Deletes elements by key (values and timeouts are ignored).
    pub fn delete_elements(&mut self, t: &Table, s: &Set, elems: &[Element]) {
        self.elements(t, s, elems, true);
    }

    /// Element lists go in messages of at most [`MAX_ELEMS_BYTES`] of elements, split between
    /// list elements (an interval's start and end element may land in two messages).
    fn elements(&mut self, t: &Table, s: &Set, elems: &[Element], delete: bool) {
        if elems.is_empty() {
            return;
        }
        let mut m = ElemMsg::begin(t, &s.name, None, delete);
        for e in elems {
            let start = m.bytes.len();
            let second = put_element(&mut m.bytes, s, e, delete);
            let end = m.bytes.len();
            // The element's list elements, in order, at the end of the buffer.
            let pieces = match second {
                Some(at) => [at - start, end - at],
                None => [end - start, 0],
            };
            for (i, &len) in pieces.iter().enumerate().filter(|(_, l)| **l > 0) {
                if m.list_bytes + len > MAX_ELEMS_BYTES && m.count > 0 {
                    let from = m.bytes.len() - pieces[i..].iter().sum::<usize>();
                    let tail = m.bytes.split_off(from);
                    self.push_elements(t, s, m, delete);
                    m = ElemMsg::begin(t, &s.name, None, delete);
                    m.bytes.extend_from_slice(&tail);
                }
                m.list_bytes += len;
                m.count += 1;
            }
        }
        self.push_elements(t, s, m, delete);
    }

    fn push_elements(&mut self, t: &Table, s: &Set, m: ElemMsg, delete: bool) {
        let (bytes, n) = m.finish();
        let what = if delete {
            format!("delete {n} elements from set {}", s.name)
        } else {
            format!("add {n} elements to set {}", s.name)
        };
        self.push_bytes(t, bytes, None, what);
    }

    /// The whole transaction as bytes; message `i` gets sequence `seq + 1 + i`
    /// and asks for an ack, BEGIN and END get `seq` and `seq + len + 1`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let ctl = |c: ControlMessage, s: u32| {
            let hdr = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES);
            let mut out = vec![];
            emit(NetfilterMessage::new(hdr, c), NLM_F_REQUEST, s, &mut out);
            out
        };
        let begin = match self.genid {
            None => ControlMessage::BatchBegin,
            // NFNL_MSG_BATCH_BEGIN with NFNL_BATCH_GENID.
            Some(g) => ControlMessage::Other {
                message_type: 16,
                attributes: vec![nla_u32(1, g)],
            },
        };
        let begin = ctl(begin, seq);
        let end = ctl(
            ControlMessage::BatchEnd,
            seq.wrapping_add(1 + self.msgs.len() as u32),
        );
        let body: usize = self.msgs.iter().map(|m| m.bytes.len()).sum();
        let mut out = Vec::with_capacity(begin.len() + body + end.len());
        out.extend_from_slice(&begin);
        for (i, m) in self.msgs.iter().enumerate() {
            let at = out.len() + NLMSG_SEQ;
            out.extend_from_slice(&m.bytes);
            let s = seq.wrapping_add(1 + i as u32);
            out[at..at + 4].copy_from_slice(&s.to_ne_bytes());
        }
        out.extend_from_slice(&end);
        out
    }
}

/// A typed message as bytes, with the flags every batch message carries.
fn typed(nfproto: u8, flags: u16, body: NfTablesMessage) -> Vec<u8> {
    let hdr = NetfilterHeader::new(NetfilterProtoFamily::from(nfproto), 0, 0);
    let mut out = vec![];
    emit(
        NetfilterMessage::new(hdr, body),
        NLM_F_REQUEST | NLM_F_ACK | flags,
        0,
        &mut out,
    );
    out
}

/// An element message being written: header, table, set, then the open element list.
struct ElemMsg {
    bytes: Vec<u8>,
    list: usize,
    /// List elements so far, and their bytes.
    count: usize,
    list_bytes: usize,
}

impl ElemMsg {
    fn begin(t: &Table, set: &str, set_id: Option<u32>, delete: bool) -> Self {
        let (kind, flags) = if delete {
            (NFT_MSG_DELSETELEM, 0)
        } else {
            (NFT_MSG_NEWSETELEM, NLM_F_CREATE)
        };
        let ty = NFNL_SUBSYS_NFTABLES << 8 | u16::from(kind);
        let mut bytes = Vec::with_capacity(MAX_ELEMS_BYTES + 256);
        let flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        wire::begin_msg(&mut bytes, ty, flags, t.family.nfproto());
        wire::put_str(&mut bytes, NFTA_SET_ELEM_LIST_TABLE, &t.name);
        wire::put_str(&mut bytes, NFTA_SET_ELEM_LIST_SET, set);
        if let Some(id) = set_id {
            wire::put_u32(&mut bytes, NFTA_SET_ELEM_LIST_SET_ID, id);
        }
        let list = wire::begin(&mut bytes);
        ElemMsg {
            bytes,
            list,
            count: 0,
            list_bytes: 0,
        }
    }

    /// The message's bytes and its number of list elements.
    fn finish(mut self) -> (Vec<u8>, usize) {
        wire::end(&mut self.bytes, self.list, NFTA_SET_ELEM_LIST_ELEMENTS);
        wire::finish_msg(&mut self.bytes);
        (self.bytes, self.count)
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
