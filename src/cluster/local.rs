//! What a node remembers about its cluster, in `ROOT/cluster.json` (a small file, not the
//! SQLite store, so single-host state stays untouched): where etcd is (so later commands
//! need no flags), and once it joined, its name, underlay, VTEP MAC, the subnet it held and
//! the lease it held (to take both back after a restart). Written atomically (rename).

use crate::model::Mac;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub const FILE: &str = "cluster.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    pub etcd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// As given: an address or an interface name (resolved when the agent starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vtep_mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl: Option<u64>,
    /// The cluster's pod CIDR and VNI, copied from etcd when the agent joins: the node's
    /// commands render the overlay's netfilter part from them without asking etcd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// The overlay device's MTU (underlay − 50), the cluster network's MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

impl Local {
    /// Whether the node has joined (its agent recorded a subnet and the cluster's values).
    pub fn joined(&self) -> Option<Joined> {
        Some(Joined {
            subnet: self.subnet?,
            pod_cidr: self.pod_cidr?,
            vni: self.vni?,
            mtu: self.mtu,
        })
    }
}

/// What a joined node's commands need: its subnet (the cluster network's) and the cluster's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    pub subnet: Ipv4Net,
    pub pod_cidr: Ipv4Net,
    pub vni: u32,
    pub mtu: Option<u32>,
}

pub fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// The node's cluster record, `None` when it is in single-host mode.
pub fn load(root: &Path) -> Result<Option<Local>, String> {
    let p = path(root);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            format!(
                "{} is not a podnet cluster record ({e}): move it away",
                p.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

pub fn save(root: &Path, local: &Local) -> Result<(), String> {
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let p = path(root);
    let tmp = root.join(format!("{FILE}.tmp{}", std::process::id()));
    let text = serde_json::to_vec_pretty(local).expect("plain struct");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &p))
        .map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// A random locally administered unicast MAC (`0e:...`), for a node whose VXLAN device
/// does not exist yet; kept in the record so it stays the same across restarts.
pub fn random_mac() -> Mac {
    let mut b = [0u8; 6];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !ok {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0) as u64
            ^ u64::from(std::process::id());
        b.copy_from_slice(&t.to_le_bytes()[..6]);
    }
    b[0] = (b[0] & 0xfc) | 0x02;
    Mac(b)
}

/// The underlay address: `spec` itself when it is an address, else the first IPv4 address
/// of the interface `spec`.
pub fn resolve_underlay(spec: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = spec.parse::<IpAddr>() {
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
            return Err(format!(
                "--underlay {spec} is not a unicast address other nodes can reach"
            ));
        }
        return Ok(ip);
    }
    let mut rtnl = crate::kernel::nl::Rtnl::open().map_err(|e| e.to_string())?;
    let link = crate::kernel::link::get(&mut rtnl, spec)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("--underlay {spec:?} is neither an address nor an interface here")
        })?;
    crate::kernel::addr::list(&mut rtnl)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|(i, _, _)| *i == link.index)
        .map(|(_, ip, _)| IpAddr::V4(ip))
        .ok_or_else(|| format!("--underlay interface {spec} has no IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_a_missing_one_is_single_host() {
        let dir = std::env::temp_dir().join(format!("podnet-local-{}", std::process::id()));
        assert_eq!(load(&dir).unwrap(), None);
        let l = Local {
            etcd: vec!["http://127.0.0.1:2379".into()],
            node: Some("n1".into()),
            subnet: Some("10.244.3.0/24".parse().unwrap()),
            lease: Some(42),
            ..Local::default()
        };
        save(&dir, &l).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(l));
        std::fs::write(path(&dir), b"{").unwrap();
        assert!(load(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn random_macs_are_locally_administered_unicast() {
        let m = random_mac();
        assert_eq!(m.0[0] & 0x03, 0x02);
    }
}
