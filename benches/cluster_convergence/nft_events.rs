//! A mirror of the sets and maps of `ip podnet-csvc` in one node's namespace, kept from
//! nf_tables notifications (NFNLGRP_NFTABLES): element adds and deletes are applied when
//! their transaction's NEWGEN arrives (the moment the new ruleset is the one packets see);
//! a deleted set or table empties its mirror. Element keys and data are kept as the
//! kernel's bytes (concatenations padded to 32 bits, network order).

use super::watched::{watch_netlink, Watched};
use netlink_sys::protocols::NETLINK_NETFILTER;
use podnet::kernel::nft::query;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

const TABLE: &str = "podnet-csvc";
const NFNLGRP_NFTABLES: u32 = 7;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFT_MSG_NEWGEN: u16 = 15;
/// NFTA_TABLE_NAME, NFTA_SET_TABLE and NFTA_SET_ELEM_LIST_TABLE alike.
const A_TABLE: u16 = 1;
/// NFTA_SET_NAME, NFTA_SET_ELEM_LIST_SET.
const A_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;

/// set name → key → data (empty for a verdict or a plain set).
#[derive(Default, Debug)]
pub struct Maps {
    pub sets: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Transactions applied (any table).
    pub generations: u64,
}

impl Maps {
    /// `service_ips` holds a key for `vip` (any protocol and port).
    pub fn has_vip(&self, vip: Ipv4Addr) -> bool {
        self.sets
            .get("service_ips")
            .is_some_and(|m| m.keys().any(|k| k.starts_with(&vip.octets())))
    }

    /// `eps` maps some slot to `ip` (any port).
    pub fn has_backend(&self, ip: Ipv4Addr) -> bool {
        self.sets
            .get("eps")
            .is_some_and(|m| m.values().any(|d| d.starts_with(&ip.octets())))
    }

    /// The backend addresses `eps` holds.
    pub fn backends(&self) -> std::collections::BTreeSet<Ipv4Addr> {
        self.sets
            .get("eps")
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|d| d.len() >= 4)
            .map(|d| Ipv4Addr::new(d[0], d[1], d[2], d[3]))
            .collect()
    }
}

enum Op {
    Put(String, Vec<u8>, Vec<u8>),
    Del(String, Vec<u8>),
    ClearSet(String),
    ClearAll,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v)).into_owned()
}

fn value(nested: &[u8]) -> Vec<u8> {
    query::attrs(nested)
        .into_iter()
        .find(|(k, _)| *k == NFTA_DATA_VALUE)
        .map(|(_, v)| v.to_vec())
        .unwrap_or_default()
}

/// The ops one notification (type `msg`, body after the nfgenmsg) carries for TABLE.
fn ops(msg: u16, attrs: &[u8], out: &mut Vec<Op>) {
    let list = query::attrs(attrs);
    let get = |k: u16| list.iter().find(|(t, _)| *t == k).map(|(_, v)| *v);
    if get(A_TABLE).map(text).as_deref() != Some(TABLE) {
        return;
    }
    let set = get(A_SET).map(text).unwrap_or_default();
    match msg {
        NFT_MSG_DELTABLE => out.push(Op::ClearAll),
        NFT_MSG_DELSET => out.push(Op::ClearSet(set)),
        NFT_MSG_NEWSETELEM | NFT_MSG_DELSETELEM => {
            for (_, elem) in query::attrs(get(NFTA_SET_ELEM_LIST_ELEMENTS).unwrap_or(&[])) {
                let e = query::attrs(elem);
                let find = |k: u16| e.iter().find(|(t, _)| *t == k).map(|(_, v)| value(v));
                let key = find(NFTA_SET_ELEM_KEY).unwrap_or_default();
                if msg == NFT_MSG_NEWSETELEM {
                    let data = find(NFTA_SET_ELEM_DATA).unwrap_or_default();
                    out.push(Op::Put(set.clone(), key, data));
                } else {
                    out.push(Op::Del(set.clone(), key));
                }
            }
        }
        _ => {}
    }
}

fn apply(m: &mut Maps, ops: Vec<Op>) {
    m.generations += 1;
    for op in ops {
        match op {
            Op::Put(s, k, d) => {
                m.sets.entry(s).or_default().insert(k, d);
            }
            Op::Del(s, k) => {
                if let Some(set) = m.sets.get_mut(&s) {
                    set.remove(&k);
                }
            }
            Op::ClearSet(s) => {
                m.sets.remove(&s);
            }
            Op::ClearAll => m.sets.clear(),
        }
    }
}

/// Starts the watcher of the namespace at `netns`; returns once it is subscribed.
pub fn watch(netns: PathBuf, name: String) -> Result<Arc<Watched<Maps>>, String> {
    // Element changes wait here for their transaction's NEWGEN.
    let mut pending = Vec::new();
    watch_netlink(
        netns,
        name,
        NETLINK_NETFILTER,
        &[NFNLGRP_NFTABLES],
        move |datagram, at, mirror: &Watched<Maps>| {
            for m in query::split_messages(datagram) {
                if m.ty >> 8 != NFNL_SUBSYS_NFTABLES || m.body.len() < 4 {
                    continue;
                }
                let msg = m.ty & 0xff;
                if msg == NFT_MSG_NEWGEN {
                    let done = std::mem::take(&mut pending);
                    mirror.apply(at, |mm| apply(mm, done));
                } else {
                    ops(msg, &m.body[4..], &mut pending);
                }
            }
        },
    )
}
