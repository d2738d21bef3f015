//! A node's record in etcd: `/podnet/v1/nodes/NAME` (its subnet and VTEP, JSON) and
//! `/podnet/v1/subnets/A.B.C.D-LEN` (the node's name), both bound to the node's lease, so
//! both vanish when its agent stops renewing it.

use super::etcd::Kv;
use crate::model::{Mac, NodeLease};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub const NODES: &str = "/podnet/v1/nodes/";
pub const SUBNETS: &str = "/podnet/v1/subnets/";

#[derive(Serialize, Deserialize)]
struct Record {
    subnet: Ipv4Net,
    underlay: IpAddr,
    vtep_mac: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    moved: Option<Moved>,
}

/// Why a node holds another subnet than the one it held before: that one went to another
/// node while this one was cut off past its TTL (flannel#1289). Kept in the node's record,
/// so `podnet node inspect` on every node says so, until the node next joins afresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The subnet it held before.
    pub from: Ipv4Net,
    /// The node holding it now.
    pub holder: String,
}

pub fn node_key(name: &str) -> String {
    format!("{NODES}{name}")
}

pub fn subnet_key(subnet: Ipv4Net) -> String {
    format!("{SUBNETS}{}-{}", subnet.network(), subnet.prefix_len())
}

/// The subnet a `subnets/` key names.
pub fn subnet_of_key(key: &str) -> Option<Ipv4Net> {
    let (addr, len) = key.strip_prefix(SUBNETS)?.split_once('-')?;
    Ipv4Net::new(addr.parse().ok()?, len.parse().ok()?).ok()
}

pub fn encode(n: &NodeLease) -> Vec<u8> {
    encode_moved(n, None)
}

/// [`encode`], with the note of a subnet that moved.
pub fn encode_moved(n: &NodeLease, moved: Option<&Moved>) -> Vec<u8> {
    serde_json::to_vec(&Record {
        subnet: n.subnet,
        underlay: n.underlay,
        vtep_mac: n.vtep_mac.to_string(),
        moved: moved.cloned(),
    })
    .expect("plain struct")
}

/// The moved-subnet note of a `nodes/` key, if it has one.
pub fn moved(kv: &Kv) -> Option<Moved> {
    serde_json::from_slice::<Record>(&kv.value).ok()?.moved
}

/// The node a `nodes/` key holds; `None` for anything else (skipped, never fatal: another
/// podnet version may write fields this one does not know).
pub fn decode(kv: &Kv) -> Option<NodeLease> {
    let name = kv.key.strip_prefix(NODES)?;
    let r: Record = serde_json::from_slice(&kv.value).ok()?;
    Some(NodeLease {
        name: name.to_string(),
        subnet: r.subnet,
        underlay: r.underlay,
        vtep_mac: r.vtep_mac.parse::<Mac>().ok()?,
    })
}

/// A node name: what a DNS label allows, so it fits keys, logs and interface aliases.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--node {name:?} is not a node name: 1-63 letters, digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_records_round_trip() {
        let n = NodeLease {
            name: "n1".into(),
            subnet: "10.244.3.0/24".parse().unwrap(),
            underlay: "192.168.50.2".parse().unwrap(),
            vtep_mac: "0e:00:00:00:00:01".parse().unwrap(),
        };
        let kv = Kv {
            key: node_key("n1"),
            value: encode(&n),
            create_revision: 1,
            mod_revision: 1,
            lease: 7,
        };
        assert_eq!(decode(&kv), Some(n.clone()));
        assert_eq!(moved(&kv), None);
        assert_eq!(subnet_of_key(&subnet_key(n.subnet)), Some(n.subnet));
        let m = Moved {
            from: "10.244.0.0/24".parse().unwrap(),
            holder: "n2".into(),
        };
        let noted = Kv {
            value: encode_moved(&n, Some(&m)),
            ..kv.clone()
        };
        assert_eq!(decode(&noted), Some(n.clone()));
        assert_eq!(moved(&noted), Some(m));
        let junk = Kv {
            value: b"{}".to_vec(),
            ..kv
        };
        assert_eq!(decode(&junk), None);
    }

    #[test]
    fn node_names() {
        for good in ["n1", "node-a.example", "a_b"] {
            check_name(good).unwrap();
        }
        for bad in ["", "-a", ".a", "a/b", "a b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
