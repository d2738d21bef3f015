//! Cluster mode of the agent: when the state root's `cluster.json` names a node, join the
//! cluster (`cluster::member`) and follow the other nodes (`cluster::watch`). Single-host
//! agents (no record, or one without a node) start nothing here.
//!
//! The watch's sink wakes the overlay loop (`overlay.rs`: VXLAN device, entries per remote
//! node, the cluster network) and records the remote nodes in `ROOT/cluster-peers.json`
//! (written atomically; `podnet node ls` reads etcd, tests read the file), logging each
//! change.

use crate::cluster::config::ConfigError;
use crate::cluster::etcd::Etcd;
use crate::cluster::lease::{JoinError, JoinRequest, DEFAULT_TTL};
use crate::cluster::watch::{self, NodeChange, NodeSink};
use crate::cluster::{local, member};
use crate::engine::overlay::OverlayConfig;
use crate::model::{Error, Mac, NodeLease, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PEERS_FILE: &str = "cluster-peers.json";

/// Joins and starts the watch when this node is in a cluster; `None` in single-host mode.
pub fn start(root: &Path, run_dir: &Path) -> Result<Option<member::Current>> {
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
    let (pod_cidr, vni) = (cfg.pod_cidr, cfg.vni);
    let current =
        member::start(root, etcd.clone(), cfg, req, log.clone()).map_err(|e| match e {
            JoinError::NameInUse { .. } => Error::conflict(e.to_string()),
            JoinError::Full(_) => Error::conflict(e.to_string()),
            JoinError::Etcd(_) => Error::failed(e.to_string()),
        })?;
    // What the node's commands need to render the overlay's netfilter part offline.
    let recorded = local::load(root).and_then(|l| {
        let mut l = l.unwrap_or_default();
        l.pod_cidr = Some(pod_cidr);
        l.vni = Some(vni);
        local::save(root, &l)
    });
    if let Err(e) = recorded {
        log(&format!("cannot record the cluster's values: {e}"));
    }
    let latest = Arc::new(super::overlay::Latest::default());
    match underlay {
        IpAddr::V4(ip) => {
            let mut ocfg = OverlayConfig::new(vni, ip);
            ocfg.mac = Some(vtep_mac);
            let lp = super::overlay::Loop {
                root: root.to_path_buf(),
                run_dir: run_dir.to_path_buf(),
                cfg: ocfg,
                current: current.clone(),
                latest: latest.clone(),
                log: log.clone(),
            };
            std::thread::Builder::new()
                .name("cluster-overlay".into())
                .spawn(move || lp.run())
                .map_err(|e| Error::failed(format!("agent: overlay thread: {e}")))?;
        }
        IpAddr::V6(_) => log("overlay: an IPv6 underlay is not supported yet: no VXLAN device"),
    }
    let mut sink = super::overlay::Sink {
        latest,
        next: PeersFile {
            path: root.join(PEERS_FILE),
        },
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
