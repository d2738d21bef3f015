//! Every node's containers, as service backends for the whole cluster:
//! `/podnet/v1/endpoints/NODE/CONTAINER` = `{"ip": ..., "labels": {...}}`, written by the node
//! that runs the container and bound to that node's lease, so a node that dies takes its
//! endpoints with it after its TTL (no one else has to clean up after it).
//!
//! The node's agent publishes what its store says ([`Publisher::sync`]): a diff against what
//! it published last, one transaction per chunk of changes; after a start or a new lease it
//! first lists its own prefix, so a container removed while the agent was down disappears.

use super::etcd::{Etcd, EtcdError, Kv, Op};
use crate::model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const ENDPOINTS: &str = "/podnet/v1/endpoints/";

/// etcd refuses a transaction of more than 128 operations by default.
const CHUNK: usize = 100;

/// One container as a possible backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub ip: Ipv4Addr,
    #[serde(default)]
    pub labels: Labels,
}

pub fn node_prefix(node: &str) -> String {
    format!("{ENDPOINTS}{node}/")
}

pub fn endpoint_key(node: &str, container: &str) -> String {
    format!("{ENDPOINTS}{node}/{container}")
}

pub fn encode(r: &EndpointRecord) -> Vec<u8> {
    serde_json::to_vec(r).expect("plain struct")
}

/// (node, container, record) of an `endpoints/` key; `None` for anything else.
pub fn decode(kv: &Kv) -> Option<(String, String, EndpointRecord)> {
    let (node, container) = kv.key.strip_prefix(ENDPOINTS)?.split_once('/')?;
    let r: EndpointRecord = serde_json::from_slice(&kv.value).ok()?;
    Some((node.to_string(), container.to_string(), r))
}

/// What this node has published, kept between syncs.
#[derive(Debug)]
pub struct Publisher {
    node: String,
    /// The lease the published keys are bound to (0: nothing published yet).
    lease: i64,
    published: BTreeMap<String, EndpointRecord>,
}

impl Publisher {
    pub fn new(node: &str) -> Publisher {
        Publisher {
            node: node.to_string(),
            lease: 0,
            published: BTreeMap::new(),
        }
    }

    /// Makes etcd hold exactly `want` (container → record) under this node, bound to `lease`.
    /// Returns how many keys were written or deleted. On error the next call starts over
    /// from a listing.
    pub fn sync(
        &mut self,
        etcd: &Etcd,
        lease: i64,
        want: &BTreeMap<String, EndpointRecord>,
    ) -> Result<usize, EtcdError> {
        if lease != self.lease {
            // A new lease (start, or a re-join): what etcd holds is the truth, and every key
            // must be bound to the new lease.
            let (kvs, _) = etcd.list(&node_prefix(&self.node))?;
            self.published = kvs
                .iter()
                .filter(|kv| kv.lease == lease)
                .filter_map(decode)
                .map(|(_, c, r)| (c, r))
                .collect();
            // Keys bound to an older lease still alive are rewritten (bound to this one) or
            // deleted: count them as published only when they are already this lease's.
            for kv in kvs.iter().filter(|kv| kv.lease != lease) {
                if let Some((_, c, _)) = decode(kv) {
                    if !want.contains_key(&c) {
                        self.published.insert(
                            c,
                            EndpointRecord {
                                ip: Ipv4Addr::UNSPECIFIED,
                                labels: Labels::new(),
                            },
                        );
                    }
                }
            }
            self.lease = lease;
        }
        let mut ops = Vec::new();
        for (c, r) in want {
            if self.published.get(c) != Some(r) {
                ops.push(Op::Put {
                    key: endpoint_key(&self.node, c),
                    value: encode(r),
                    lease,
                });
            }
        }
        for c in self.published.keys().filter(|c| !want.contains_key(*c)) {
            ops.push(Op::Delete(endpoint_key(&self.node, c)));
        }
        let n = ops.len();
        for chunk in ops.chunks(CHUNK) {
            if let Err(e) = etcd.txn(&[], chunk, &[]) {
                self.lease = 0;
                return Err(e);
            }
        }
        self.published = want.clone();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_records_round_trip() {
        let r = EndpointRecord {
            ip: "10.244.1.5".parse().unwrap(),
            labels: [("app".to_string(), "web".to_string())].into(),
        };
        let kv = Kv {
            key: endpoint_key("n1", "web1"),
            value: encode(&r),
            create_revision: 1,
            mod_revision: 1,
            lease: 9,
        };
        assert_eq!(decode(&kv), Some(("n1".into(), "web1".into(), r)));
        let other = Kv {
            key: "/podnet/v1/services/web".into(),
            ..kv
        };
        assert_eq!(decode(&other), None);
    }
}
