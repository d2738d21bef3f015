//! `podnet cluster init`, `podnet node ls|inspect`, and the cluster flags of `podnet agent`:
//! check the input, talk to etcd (`cluster::`), print. Where etcd is goes into the state
//! root (`cluster.json`), so later commands need no flags.

use super::args::{AgentArgs, ClusterCmd, Format, NodeCmd};
use super::exit;
use crate::cluster::config::{self, ClusterConfig, Init};
use crate::cluster::etcd::Etcd;
use crate::cluster::node::{self, check_name};
use crate::cluster::{local, watch};
use crate::model::{Error, Mac, Result};
use std::path::Path;

fn urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect()
}

fn client(list: &str) -> Result<Etcd> {
    Etcd::new(&urls(list)).map_err(|e| Error::input(format!("--etcd: {e}")))
}

/// etcd from the flag, else from the state root.
fn client_of(root: &Path, flag: Option<&str>) -> Result<Etcd> {
    if let Some(f) = flag {
        return client(f);
    }
    match local::load(root).map_err(Error::failed)? {
        Some(l) if !l.etcd.is_empty() => client(&l.etcd.join(",")),
        _ => Err(Error::input(
            "this node knows no cluster: give --etcd URLS or run `podnet cluster init` first",
        )),
    }
}

pub fn cluster(root: &Path, cmd: ClusterCmd) -> Result<i32> {
    let ClusterCmd::Init {
        etcd,
        pod_cidr,
        node_prefix,
        vni,
    } = cmd;
    let etcd = client(&etcd)?;
    let cfg = ClusterConfig::new(&pod_cidr, node_prefix, vni).map_err(Error::input)?;
    // The pod CIDR must not hide any network this host already routes to.
    let mut rtnl = crate::kernel::nl::Rtnl::open()?;
    let routes = crate::kernel::route::destinations(&mut rtnl)?;
    if let Some(r) = cfg.overlapping_route(&routes) {
        return Err(Error::input(format!(
            "--pod-cidr {} overlaps this host's route to {r}: choose a range no host routes to",
            cfg.pod_cidr
        )));
    }
    let done = config::init(&etcd, &cfg).map_err(|e| crate::agent::config_error(e, &etcd))?;
    let mut l = local::load(root)
        .map_err(Error::failed)?
        .unwrap_or_default();
    l.etcd = etcd.urls();
    local::save(root, &l).map_err(Error::failed)?;
    match done {
        Init::Created => exit::note(format!(
            "cluster created: pod CIDR {}, /{} per node, VNI {}",
            cfg.pod_cidr, cfg.node_prefix, cfg.vni
        )),
        Init::AlreadySame => exit::note(format!(
            "cluster already set up with these values: pod CIDR {}, /{} per node, VNI {}",
            cfg.pod_cidr, cfg.node_prefix, cfg.vni
        )),
    }
    Ok(0)
}

/// Checks and records the cluster flags (nothing is written when one is wrong), then runs
/// the agent, which joins when the record names a node.
pub fn agent(root: &Path, run_dir: &Path, a: AgentArgs) -> Result<i32> {
    let any = a.etcd.is_some()
        || a.node.is_some()
        || a.underlay.is_some()
        || a.vtep_mac.is_some()
        || a.lease_ttl.is_some();
    // A refused join leaves the record as it was (bad input and conflicts leave nothing).
    let before = std::fs::read(local::path(root)).ok();
    if any {
        let mut l = local::load(root)
            .map_err(Error::failed)?
            .unwrap_or_default();
        if let Some(e) = &a.etcd {
            l.etcd = client(e)?.urls();
        }
        if l.etcd.is_empty() {
            return Err(Error::input(
                "cluster mode needs --etcd URLS (or `podnet cluster init` on this node first)",
            ));
        }
        if let Some(n) = &a.node {
            check_name(n).map_err(Error::input)?;
            if l.node.as_deref() != Some(n.as_str()) {
                // Another name: what the old one held is not this node's to take back.
                l.subnet = None;
                l.lease = None;
            }
            l.node = Some(n.clone());
        }
        let Some(_) = &l.node else {
            return Err(Error::input("cluster mode needs --node NAME"));
        };
        if let Some(u) = &a.underlay {
            local::resolve_underlay(u).map_err(Error::input)?;
            l.underlay = Some(u.clone());
        }
        if l.underlay.is_none() {
            return Err(Error::input("cluster mode needs --underlay ADDR|IFACE"));
        }
        if let Some(m) = &a.vtep_mac {
            let mac: Mac = m
                .parse()
                .map_err(|e| Error::input(format!("--vtep-mac: {e}")))?;
            l.vtep_mac = Some(mac.to_string());
        }
        if l.vtep_mac.is_none() {
            l.vtep_mac = Some(local::random_mac().to_string());
        }
        if let Some(t) = a.lease_ttl {
            l.lease_ttl = Some(t);
        }
        local::save(root, &l).map_err(Error::failed)?;
    }
    let r = crate::agent::main(root, run_dir, a.foreground);
    if r.is_err() && any {
        let p = local::path(root);
        let _ = match before {
            Some(b) => std::fs::write(&p, b),
            None => std::fs::remove_file(&p),
        };
    }
    r
}

pub fn node(root: &Path, f: Format, cmd: NodeCmd) -> Result<i32> {
    match cmd {
        NodeCmd::Ls { etcd } => {
            let etcd = client_of(root, etcd.as_deref())?;
            let (nodes, _) = watch::list(&etcd).map_err(etcd_error)?;
            match f {
                Format::Json => {
                    let rows: Vec<_> = nodes.iter().map(crate::agent::cluster_peer_json).collect();
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&rows).expect("plain values")
                    );
                }
                Format::Table | Format::Text | Format::Dot | Format::Svg => {
                    outln!(
                        "{:<20} {:<18} {:<16} VTEP MAC",
                        "NAME",
                        "SUBNET",
                        "UNDERLAY"
                    );
                    for n in &nodes {
                        outln!(
                            "{:<20} {:<18} {:<16} {}",
                            n.name,
                            n.subnet.to_string(),
                            n.underlay.to_string(),
                            n.vtep_mac
                        );
                    }
                }
            }
            Ok(0)
        }
        NodeCmd::Inspect { name, etcd } => {
            let etcd = client_of(root, etcd.as_deref())?;
            let (kv, _) = etcd.get(&node::node_key(&name)).map_err(etcd_error)?;
            let Some((kv, n)) = kv.and_then(|kv| node::decode(&kv).map(|n| (kv, n))) else {
                return Err(Error::not_found(
                    "node",
                    name.clone(),
                    format!("no live node {name:?} in the cluster: see `podnet node ls`"),
                ));
            };
            let ttl = etcd.time_to_live(kv.lease).map_err(etcd_error)?;
            let mut v = crate::agent::cluster_peer_json(&n);
            v["lease"] = serde_json::json!(format!("{:x}", kv.lease));
            v["lease_ttl_left"] = serde_json::json!(ttl);
            // Its subnet is not the one it held before (that one went to another node while
            // it was cut off): say so wherever it is inspected.
            let moved = node::moved(&kv);
            if let Some(m) = &moved {
                v["previous_subnet"] = serde_json::json!(m.from.to_string());
                v["previous_subnet_held_by"] = serde_json::json!(m.holder);
            }
            match f {
                Format::Json => outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("plain values")
                ),
                Format::Table | Format::Text | Format::Dot | Format::Svg => {
                    outln!("name:      {}", n.name);
                    outln!("subnet:    {}", n.subnet);
                    outln!("underlay:  {}", n.underlay);
                    outln!("VTEP MAC:  {}", n.vtep_mac);
                    outln!("lease:     {:x} ({ttl} s left)", kv.lease);
                    if let Some(m) = &moved {
                        outln!("note:      {}", crate::cluster::lease::moved_text(&n, m));
                    }
                }
            }
            Ok(0)
        }
    }
}

fn etcd_error(e: crate::cluster::etcd::EtcdError) -> Error {
    Error::failed(format!("{e}: check --etcd and that etcd runs"))
}
