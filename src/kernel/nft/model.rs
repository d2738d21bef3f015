//! Desired nftables state as plain data. Higher layers build these values;
//! [`super::Batch`] turns changes over them into one netlink transaction.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::batch::Batch;
use super::stmt::Stmt;
use super::types::{ChainType, DataType, Family, Hook, Policy, Value, Verdict};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Table {
    pub family: Family,
    pub name: String,
}

impl Table {
    pub fn new(family: Family, name: impl Into<String>) -> Self {
        Table {
            family,
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chain {
    pub name: String,
    /// `None` for a regular chain (only reachable by jump/goto).
    pub base: Option<BaseChain>,
    /// The device of a netdev-family base chain (`hook ingress device "pn0"`); the kernel
    /// takes the name even before the device exists.
    pub device: Option<String>,
}

impl Chain {
    pub fn regular(name: impl Into<String>) -> Self {
        Chain {
            name: name.into(),
            base: None,
            device: None,
        }
    }

    /// A base chain with policy accept.
    pub fn base(name: impl Into<String>, kind: ChainType, hook: Hook, priority: i32) -> Self {
        let base = BaseChain {
            kind,
            hook,
            priority,
            policy: Policy::Accept,
        };
        Chain {
            name: name.into(),
            base: Some(base),
            device: None,
        }
    }

    /// A netdev-family filter chain on `device`'s ingress, policy accept.
    pub fn ingress(name: impl Into<String>, device: impl Into<String>, priority: i32) -> Self {
        Chain {
            device: Some(device.into()),
            ..Chain::base(name, ChainType::Filter, Hook::Ingress, priority)
        }
    }
}

/// What a map maps to; a plain set has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetData {
    Verdict,
    Value(Vec<DataType>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Set {
    pub name: String,
    pub key: Vec<DataType>,
    pub data: Option<SetData>,
    pub interval: bool,
    /// Writable from the packet path (`add @set`, `update @map`).
    pub dynamic: bool,
    /// Elements may carry a timeout.
    pub timeout_flag: bool,
    /// Default element timeout; implies `timeout_flag`.
    pub timeout: Option<Duration>,
    pub size: Option<u32>,
}

impl Set {
    pub fn plain(name: impl Into<String>, key: Vec<DataType>) -> Self {
        Set {
            name: name.into(),
            key,
            data: None,
            interval: false,
            dynamic: false,
            timeout_flag: false,
            timeout: None,
            size: None,
        }
    }

    pub fn map(name: impl Into<String>, key: Vec<DataType>, value: Vec<DataType>) -> Self {
        Set {
            data: Some(SetData::Value(value)),
            ..Set::plain(name, key)
        }
    }

    pub fn vmap(name: impl Into<String>, key: Vec<DataType>) -> Self {
        Set {
            data: Some(SetData::Verdict),
            ..Set::plain(name, key)
        }
    }

    pub fn interval(mut self) -> Self {
        self.interval = true;
        self
    }

    pub fn dynamic(mut self) -> Self {
        self.dynamic = true;
        self
    }

    /// Allow per-element timeouts (`flags timeout`) without a default.
    pub fn with_timeouts(mut self) -> Self {
        self.timeout_flag = true;
        self
    }

    pub fn default_timeout(mut self, t: Duration) -> Self {
        self.timeout_flag = true;
        self.timeout = Some(t);
        self
    }

    pub fn size(mut self, n: u32) -> Self {
        self.size = Some(n);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ElemData {
    Value(Vec<Value>),
    Verdict(Verdict),
}

/// A set/map element. In an interval set, `key_end` is the inclusive end of
/// the range (`None`: a single value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Element {
    pub key: Vec<Value>,
    pub key_end: Option<Vec<Value>>,
    pub data: Option<ElemData>,
    pub timeout: Option<Duration>,
}

impl Element {
    pub fn new(key: Vec<Value>) -> Self {
        Element {
            key,
            key_end: None,
            data: None,
            timeout: None,
        }
    }

    pub fn range(start: Vec<Value>, end_inclusive: Vec<Value>) -> Self {
        Element {
            key_end: Some(end_inclusive),
            ..Element::new(start)
        }
    }

    /// An IPv4 prefix as an interval element.
    pub fn ipv4_net(net: ipnet::Ipv4Net) -> Self {
        let (a, b): (Ipv4Addr, Ipv4Addr) = (net.network(), net.broadcast());
        Element::range(vec![Value::Ipv4(a)], vec![Value::Ipv4(b)])
    }

    /// An IPv6 prefix as an interval element.
    pub fn ipv6_net(net: ipnet::Ipv6Net) -> Self {
        let (a, b) = (net.network(), net.broadcast());
        Element::range(vec![Value::Ipv6(a)], vec![Value::Ipv6(b)])
    }

    pub fn to_value(mut self, value: Vec<Value>) -> Self {
        self.data = Some(ElemData::Value(value));
        self
    }

    pub fn to_verdict(mut self, v: Verdict) -> Self {
        self.data = Some(ElemData::Verdict(v));
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub stmts: Vec<Stmt>,
    /// Stored as nft's rule comment (shown by `nft list`).
    pub comment: Option<String>,
}

impl Rule {
    pub fn new(chain: impl Into<String>, stmts: Vec<Stmt>) -> Self {
        Rule {
            chain: chain.into(),
            stmts,
            comment: None,
        }
    }

    pub fn comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }
}

/// Everything podnet wants in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub table: Table,
    pub chains: Vec<Chain>,
    pub sets: Vec<Set>,
    /// Initial elements, by set name.
    pub elements: Vec<(String, Vec<Element>)>,
    pub rules: Vec<Rule>,
}

impl TableDef {
    pub fn new(table: Table) -> Self {
        TableDef {
            table,
            chains: vec![],
            sets: vec![],
            elements: vec![],
            rules: vec![],
        }
    }

    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.iter().find(|s| s.name == name)
    }

    /// Appends the messages that create this table's contents. Chains come
    /// before sets and rules, and elements last, because rules and verdict
    /// elements refer to chains and sets made earlier in the same batch.
    pub fn add_contents_to(&self, batch: &mut Batch) {
        for c in &self.chains {
            batch.add_chain(&self.table, c);
        }
        for s in &self.sets {
            batch.add_set(&self.table, s);
        }
        for r in &self.rules {
            batch.add_rule(&self.table, r);
        }
        for (name, elems) in &self.elements {
            if let Some(set) = self.set(name) {
                batch.add_elements(&self.table, set, elems);
            }
        }
    }
}

/// A whole desired ruleset (podnet's tables only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<TableDef>,
}

impl Ruleset {
    /// One transaction that makes every table exactly as described,
    /// whether it existed or not: add (no-op if present), delete, re-create.
    pub fn replace_batch(&self) -> Batch {
        let mut b = Batch::new();
        for t in &self.tables {
            b.add_table(&t.table);
            b.delete_table(&t.table);
            b.add_table(&t.table);
            t.add_contents_to(&mut b);
        }
        b
    }

    /// One transaction that removes every table (absent ones are no error).
    pub fn delete_batch(&self) -> Batch {
        let mut b = Batch::new();
        for t in &self.tables {
            b.add_table(&t.table);
            b.delete_table(&t.table);
        }
        b
    }
}
