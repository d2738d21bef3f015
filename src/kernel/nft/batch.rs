//! A list of changes that becomes one nfnetlink batch: BATCH_BEGIN, the
//! messages, BATCH_END, sent in a single `sendmsg` so the kernel commits all
//! of them or none. Encoding is pure and needs no kernel.

use netlink_packet_core::{
    Emitable, NetlinkMessage, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook, HookNumber, ListAttribute, NfTablesMessage, RuleAttribute,
    RuleMessage, SetAttribute, SetDescription, SetElementAttribute, SetElementList,
    SetElementMessage, SetFlags, SetMessage, TableAttribute, TableMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use super::elements::{element_attrs, set_userdata};
use super::expr::Expr;
use super::expr::{nla_nest, nla_u32};
use super::model::{Chain, Element, Rule, Set, SetData, Table};
use super::stmt::{render_in, Stmt, ANON_SET_NAME};
use super::types::{concat_len, concat_type, DataType, Value, DATA_VERDICT};

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
                m.body,
                NfTablesMessage::DeleteTable(_)
                    | NfTablesMessage::DeleteChain(_)
                    | NfTablesMessage::DeleteRule(_)
                    | NfTablesMessage::DeleteSet(_)
                    | NfTablesMessage::DeleteSetElement(_)
            )
        })
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

    /// Stamp every table this batch adds with `userdata` (`NFTA_TABLE_USERDATA`; see
    /// [`super::udata`]). The kernel keeps a table's userdata from its creation and ignores it
    /// on an `add table` of a table that exists, so in a replace batch (add, delete, add) the
    /// re-created table carries it. With `exclusive`, the first `add table` of each table
    /// refuses an existing one (NLM_F_EXCL): the whole batch then fails with EEXIST, which is
    /// how a caller that saw no table makes sure nobody else made one in the meantime.
    pub fn stamp_tables(&mut self, userdata: &[u8], exclusive: bool) {
        let mut seen: Vec<(u8, String)> = Vec::new();
        for m in &mut self.msgs {
            let NfTablesMessage::NewTable(t) = &mut m.body else {
                continue;
            };
            let name = t.attributes.iter().find_map(|a| match a {
                TableAttribute::Name(n) => Some(n.clone()),
                _ => None,
            });
            let key = (m.nfproto, name.unwrap_or_default());
            if exclusive && !seen.contains(&key) {
                m.flags |= NLM_F_EXCL;
            }
            seen.push(key);
            t.attributes
                .retain(|a| !matches!(a, TableAttribute::UserData(_)));
            t.attributes
                .push(TableAttribute::UserData(userdata.to_vec()));
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
        let list = elems
            .iter()
            .flat_map(|k| element_attrs(&set, &Element::new(k.clone()), false))
            .collect();
        let attrs = vec![
            SetElementList::Table(t.name.clone()),
            SetElementList::Set(ANON_SET_NAME.into()),
            SetElementList::SetId(id),
            SetElementList::Elements(list),
        ];
        let body = NfTablesMessage::NewSetElement(SetElementMessage { attributes: attrs });
        self.push(t, NLM_F_CREATE, body, "add anonymous set elements".into());
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
        let begin = match self.genid {
            None => ControlMessage::BatchBegin,
            // NFNL_MSG_BATCH_BEGIN with NFNL_BATCH_GENID.
            Some(g) => ControlMessage::Other {
                message_type: 16,
                attributes: vec![nla_u32(1, g)],
            },
        };
        ctl(begin, seq, &mut out);
        for (i, m) in self.msgs.iter().enumerate() {
            let hdr = NetfilterHeader::new(NetfilterProtoFamily::from(m.nfproto), 0, 0);
            let msg = NetfilterMessage::new(hdr, m.body.clone());
            emit(
                msg,
                NLM_F_REQUEST | NLM_F_ACK | m.flags,
                seq.wrapping_add(1 + i as u32),
                &mut out,
            );
        }
        ctl(
            ControlMessage::BatchEnd,
            seq.wrapping_add(1 + self.msgs.len() as u32),
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
