//! Cluster mode of the agent: when the state root's `cluster.json` names a node, join the
//! cluster (`cluster::member`) and follow the other nodes (`cluster::watch`). Single-host
//! agents (no record, or one without a node) start nothing here.
//!
//! Until the overlay is joined to it, the watch's sink records the remote nodes in
//! `ROOT/cluster-peers.json` (written atomically) and logs each change: the overlay's
//! reconcile will take its place as the [`NodeSink`].

use crate::cluster::config::ConfigError;
use crate::cluster::etcd::Etcd;
use crate::cluster::lease::{JoinError, JoinRequest, DEFAULT_TTL};
use crate::cluster::watch::{self, NodeChange, NodeSink};
use crate::cluster::{local, member};
use crate::model::{Error, Mac, NodeLease, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PEERS_FILE: &str = "cluster-peers.json";

/// Joins and starts the watch when this node is in a cluster; `None` in single-host mode.
pub fn start(root: &Path) -> Result<Option<member::Current>> {
    let Some(l) = local::load(root).map_err(Error::failed)? else {
        return Ok(None);
    };
    let Some(name) = l.node.clone() else {
        return Ok(None);
    };
    let underlay = l
        .underlay
        .as_deref()
        .ok_or_else(|| Error::input("cluster mode needs --underlay ADDR|IFACE"))
        .and_then(|u| local::resolve_underlay(u).map_err(Error::input))?;
    let vtep_mac: Mac = l
        .vtep_mac
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Error::input(format!("--vtep-mac: {e}")))?;
    let etcd = Arc::new(Etcd::new(&l.etcd).map_err(Error::input)?);
    let req = JoinRequest {
        name: name.clone(),
        underlay,
        vtep_mac,
        ttl: l.lease_ttl.unwrap_or(DEFAULT_TTL),
        prefer: l.subnet,
        prior_lease: l.lease,
    };
    let log: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(|m: &str| eprintln!("agent: cluster: {m}"));
    let cfg = member::load_config(&etcd, &req, &*log).map_err(|e| config_error(e, &etcd))?;
    // Before anything is written to etcd: the pod CIDR must not hide a network this node
    // routes to.
    crate::cluster::host::check(&cfg)?;
    let current =
        member::start(root, etcd.clone(), cfg, req, log.clone()).map_err(|e| match e {
            JoinError::NameInUse { .. } => Error::conflict(e.to_string()),
            JoinError::Full(_) => Error::conflict(e.to_string()),
            JoinError::Etcd(_) => Error::failed(e.to_string()),
        })?;
    let mut sink = PeersFile {
        path: root.join(PEERS_FILE),
    };
    sink.nodes_changed(&NodeChange::default());
    std::thread::Builder::new()
        .name("cluster-watch".into())
        .spawn(move || watch::follow(&etcd, Some(name), &mut sink, &*log))
        .map_err(|e| Error::failed(format!("agent: cluster watch thread: {e}")))?;
    Ok(Some(current))
}

/// What `cluster init`/`load` errors mean to a user.
pub fn config_error(e: ConfigError, etcd: &Etcd) -> Error {
    match e {
        ConfigError::Etcd(e) => Error::failed(format!("{e}: check --etcd and that etcd runs")),
        ConfigError::Missing => Error::input(format!(
            "no cluster at {}: run `podnet cluster init` first",
            etcd.urls().join(",")
        )),
        ConfigError::Conflict(have) => Error::conflict(format!(
            "the cluster at {} already has pod CIDR {}, node prefix /{}, VNI {}: use those values, or another etcd",
            etcd.urls().join(","),
            have.pod_cidr,
            have.node_prefix,
            have.vni
        )),
        ConfigError::Corrupt(m) => Error::failed(m),
    }
}

/// The interim sink: the remote nodes in a file, one change per log line.
struct PeersFile {
    path: PathBuf,
}

impl NodeSink for PeersFile {
    fn nodes_changed(&mut self, change: &NodeChange) {
        for n in &change.added {
            eprintln!(
                "agent: cluster: node {} is at {} (subnet {}, VTEP MAC {})",
                n.name, n.underlay, n.subnet, n.vtep_mac
            );
        }
        for n in &change.removed {
            eprintln!(
                "agent: cluster: node {} is gone (subnet {})",
                n.name, n.subnet
            );
        }
        let rows: Vec<serde_json::Value> = change.all.iter().map(peer_json).collect();
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&rows).expect("plain values");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &self.path)) {
            eprintln!("agent: cluster: cannot write {}: {e}", self.path.display());
        }
    }
}

pub fn peer_json(n: &NodeLease) -> serde_json::Value {
    serde_json::json!({
        "name": n.name,
        "subnet": n.subnet.to_string(),
        "underlay": n.underlay.to_string(),
        "vtep_mac": n.vtep_mac.to_string(),
    })
}
