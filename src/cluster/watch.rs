//! Following the cluster's nodes: list `/podnet/v1/nodes/`, then watch from the revision the
//! list was read at, and hand every change to a [`NodeSink`] as the full set of remote nodes
//! (plus what was added or changed and what was removed).
//!
//! - A watch cancelled because its start fell out of etcd's history window (compaction)
//!   means a full re-list, never "every node removed" (flannel#126): the new set replaces
//!   the old one and only the nodes really gone are reported removed.
//! - etcd unreachable: the last known set stays (the data path keeps working), retries back
//!   off from 100 ms to 5 s, and the re-list when it returns resyncs whatever changed.

use super::etcd::{Etcd, Event, Kv, WatchMsg};
use super::node::{self, NODES};
use crate::model::NodeLease;
use std::collections::BTreeMap;
use std::time::Duration;

/// One change of the remote node set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeChange {
    /// Every remote node now, by name.
    pub all: Vec<NodeLease>,
    /// New nodes, and nodes whose subnet or VTEP changed (the new value).
    pub added: Vec<NodeLease>,
    /// Nodes gone (their last known value).
    pub removed: Vec<NodeLease>,
}

/// Where the watch delivers: the overlay's reconcile (issue 11's data path) implements it.
pub trait NodeSink: Send {
    fn nodes_changed(&mut self, change: &NodeChange);
}

impl<F: FnMut(&NodeChange) + Send> NodeSink for F {
    fn nodes_changed(&mut self, change: &NodeChange) {
        self(change)
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The remote node set as last seen, and its diffs.
#[derive(Default)]
pub struct NodeSet {
    me: Option<String>,
    nodes: BTreeMap<String, NodeLease>,
}

impl NodeSet {
    /// A set that leaves out `me` (this node).
    pub fn new(me: Option<String>) -> NodeSet {
        NodeSet {
            me,
            nodes: BTreeMap::new(),
        }
    }

    fn remote(&self, n: &NodeLease) -> bool {
        self.me.as_deref() != Some(n.name.as_str())
    }

    /// Replaces the set with a fresh listing.
    pub fn replace(&mut self, listed: Vec<NodeLease>) -> NodeChange {
        let new: BTreeMap<String, NodeLease> = listed
            .into_iter()
            .filter(|n| self.remote(n))
            .map(|n| (n.name.clone(), n))
            .collect();
        let added = new
            .values()
            .filter(|n| self.nodes.get(&n.name) != Some(n))
            .cloned()
            .collect();
        let removed = self
            .nodes
            .values()
            .filter(|n| !new.contains_key(&n.name))
            .cloned()
            .collect();
        self.nodes = new;
        self.change(added, removed)
    }

    /// Applies watched events.
    pub fn apply(&mut self, events: &[Event]) -> NodeChange {
        let mut added: BTreeMap<String, NodeLease> = BTreeMap::new();
        let mut removed: BTreeMap<String, NodeLease> = BTreeMap::new();
        for e in events {
            match e {
                Event::Put(kv) => {
                    let Some(n) = node::decode(kv) else { continue };
                    if !self.remote(&n) || self.nodes.get(&n.name) == Some(&n) {
                        continue;
                    }
                    removed.remove(&n.name);
                    added.insert(n.name.clone(), n.clone());
                    self.nodes.insert(n.name.clone(), n);
                }
                Event::Delete(key) => {
                    let Some(name) = key.strip_prefix(NODES) else {
                        continue;
                    };
                    if let Some(old) = self.nodes.remove(name) {
                        added.remove(name);
                        removed.insert(name.to_string(), old);
                    }
                }
            }
        }
        self.change(
            added.into_values().collect(),
            removed.into_values().collect(),
        )
    }

    fn change(&self, added: Vec<NodeLease>, removed: Vec<NodeLease>) -> NodeChange {
        NodeChange {
            all: self.nodes.values().cloned().collect(),
            added,
            removed,
        }
    }
}

/// Every node etcd holds, with the revision read at.
pub fn list(etcd: &Etcd) -> super::etcd::Result<(Vec<NodeLease>, i64)> {
    let (kvs, rev) = etcd.list(NODES)?;
    Ok((kvs.iter().filter_map(node::decode).collect(), rev))
}

/// Follows the nodes forever (the agent's watch thread). The sink hears the first listing
/// (even an empty one) and then every change; `log` hears about outages and resyncs.
pub fn follow(etcd: &Etcd, me: Option<String>, sink: &mut dyn NodeSink, log: &dyn Fn(&str)) {
    struct Nodes<'a> {
        set: NodeSet,
        first: bool,
        sink: &'a mut dyn NodeSink,
    }
    impl Follower for Nodes<'_> {
        fn listed(&mut self, kvs: Vec<Kv>) -> bool {
            let change = self
                .set
                .replace(kvs.iter().filter_map(node::decode).collect());
            if self.first || !change.added.is_empty() || !change.removed.is_empty() {
                self.sink.nodes_changed(&change);
                self.first = false;
            }
            true
        }
        fn events(&mut self, events: Vec<Event>) -> bool {
            let change = self.set.apply(&events);
            if !change.added.is_empty() || !change.removed.is_empty() {
                self.sink.nodes_changed(&change);
            }
            true
        }
        fn keeping(&self) -> String {
            format!("keeping the last known {} nodes", self.set.nodes.len())
        }
    }
    let mut nodes = Nodes {
        set: NodeSet::new(me),
        first: true,
        sink,
    };
    list_and_watch(etcd, NODES, "node watch: ", log, &mut nodes);
}

/// Who [`list_and_watch`] reports to. `false` from either call stops it.
pub trait Follower {
    /// A full listing: at the start, and again after an outage, a compacted or cancelled
    /// watch (what is missing from it is gone; nothing else is).
    fn listed(&mut self, kvs: Vec<Kv>) -> bool;
    /// Changes since the listing or the last events.
    fn events(&mut self, events: Vec<Event>) -> bool;
    /// What stays in force while etcd is unreachable, for the log.
    fn keeping(&self) -> String;
}

/// Lists `prefix`, then watches it from the listing's revision, until `f` says stop. A
/// compacted or cancelled watch, or one that breaks, means a new listing — never "all
/// removed" (flannel#126); etcd unreachable keeps what `f` last heard and retries with backoff
/// (100 ms to 5 s). Log lines start with `what`.
pub fn list_and_watch(
    etcd: &Etcd,
    prefix: &str,
    what: &str,
    log: &dyn Fn(&str),
    f: &mut dyn Follower,
) {
    let mut backoff = BACKOFF_MIN;
    let mut outage = false;
    loop {
        let (kvs, rev) = match etcd.list(prefix) {
            Ok(l) => l,
            Err(e) => {
                if !outage {
                    log(&format!("{what}{e}; {}, retrying", f.keeping()));
                    outage = true;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if outage {
            log(&format!("{what}etcd is back; resynced"));
            outage = false;
        }
        if !f.listed(kvs) {
            return;
        }
        let mut watch = match etcd.watch(prefix, rev + 1) {
            Ok(w) => w,
            Err(e) => {
                log(&format!("{what}{e}; retrying"));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        loop {
            match watch.next_msg() {
                Ok(WatchMsg::Events { events, .. }) => {
                    backoff = BACKOFF_MIN;
                    if !f.events(events) {
                        return;
                    }
                }
                Ok(WatchMsg::Compacted { compact_revision }) => {
                    log(&format!(
                        "{what}history compacted up to revision {compact_revision}; listing again"
                    ));
                    break;
                }
                Ok(WatchMsg::Canceled(why)) => {
                    log(&format!("{what}cancelled by etcd ({why}); listing again"));
                    break;
                }
                Err(e) => {
                    log(&format!("{what}{e}; listing again"));
                    outage = true;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::etcd::Kv;
    use super::*;

    fn n(name: &str, third: u8) -> NodeLease {
        NodeLease {
            name: name.into(),
            subnet: format!("10.244.{third}.0/24").parse().unwrap(),
            underlay: format!("192.168.50.{third}").parse().unwrap(),
            vtep_mac: format!("0e:00:00:00:00:{third:02x}").parse().unwrap(),
        }
    }

    fn put(node: &NodeLease) -> Event {
        Event::Put(Kv {
            key: node::node_key(&node.name),
            value: node::encode(node),
            create_revision: 1,
            mod_revision: 1,
            lease: 1,
        })
    }

    #[test]
    fn a_relist_reports_only_real_differences_and_leaves_out_this_node() {
        let mut set = NodeSet::new(Some("me".into()));
        let c = set.replace(vec![n("me", 0), n("a", 1), n("b", 2)]);
        assert_eq!(c.all, vec![n("a", 1), n("b", 2)]);
        assert_eq!(c.added, vec![n("a", 1), n("b", 2)]);
        // After a compaction the re-list is the truth: b stays (not "removed"), a's MAC
        // changed, c is new, and nothing else is reported.
        let mut a2 = n("a", 1);
        a2.vtep_mac = "0e:00:00:00:01:01".parse().unwrap();
        let c = set.replace(vec![a2.clone(), n("b", 2), n("c", 3)]);
        assert_eq!(c.added, vec![a2.clone(), n("c", 3)]);
        assert!(c.removed.is_empty());
        let c = set.replace(vec![a2.clone(), n("c", 3)]);
        assert_eq!(c.removed, vec![n("b", 2)]);
        assert!(c.added.is_empty());
    }

    #[test]
    fn events_update_the_set() {
        let mut set = NodeSet::new(Some("me".into()));
        set.replace(vec![n("a", 1)]);
        let c = set.apply(&[
            put(&n("b", 2)),
            put(&n("me", 0)),
            Event::Delete(node::node_key("a")),
        ]);
        assert_eq!(c.all, vec![n("b", 2)]);
        assert_eq!(c.added, vec![n("b", 2)]);
        assert_eq!(c.removed, vec![n("a", 1)]);
        // A delete then a put of the same node in one batch: it is there, not removed.
        let c = set.apply(&[Event::Delete(node::node_key("b")), put(&n("b", 2))]);
        assert_eq!(c.all, vec![n("b", 2)]);
        assert!(c.removed.is_empty());
    }
}
