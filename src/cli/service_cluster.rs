//! `podnet service ...` on a node that joined a cluster (its `cluster.json` names a node):
//! the service lives in etcd (`cluster::services`) and every node's agent renders it, with
//! backends from every node. Single-host mode (no node in `cluster.json`) never comes here.

use super::args::ServiceCmd;
use super::output::print;
use super::service_cmd::{spec_of, table, HEADERS};
use super::service_view::ServiceRow;
use super::Format;
use crate::cluster::catalog::Catalog;
use crate::cluster::etcd::Etcd;
use crate::cluster::services::{self, etcd_error, ClusterService};
use crate::model::{Error, Result};
use std::path::Path;

/// etcd, when this node is in a cluster.
pub fn cluster_of(root: &Path) -> Result<Option<Etcd>> {
    match crate::cluster::local::load(root).map_err(Error::failed)? {
        Some(l) if l.node.is_some() && !l.etcd.is_empty() => {
            Ok(Some(Etcd::new(&l.etcd).map_err(Error::input)?))
        }
        _ => Ok(None),
    }
}

/// What services and endpoints in etcd say: their two prefixes only, since all of
/// `/podnet/v1/` also holds two keys per node (at 1,000 nodes `service create` took 70 ms
/// instead of 19 to print its row).
fn catalog(etcd: &Etcd) -> Result<Catalog> {
    let mut kvs = vec![];
    for prefix in [services::SERVICES, crate::cluster::endpoints::ENDPOINTS] {
        kvs.extend(etcd.list(prefix).map_err(etcd_error)?.0);
    }
    Ok(Catalog::from_kvs(&kvs))
}

fn row(c: &Catalog, s: &ClusterService) -> ServiceRow {
    ServiceRow {
        name: s.name.clone(),
        vip: s.vip.to_string(),
        vip6: None,
        ip_family: "ipv4".into(),
        ports: s.ports.iter().map(|p| p.to_string()).collect(),
        selector: Some(crate::store::encode_selector(&s.selector)),
        backend_containers: vec![],
        backends: c.backends(s).iter().map(|b| b.ip.to_string()).collect(),
        backends6: vec![],
        without_ipv6: vec![],
        affinity_timeout: s.affinity_timeout,
    }
}

pub fn run(etcd: &Etcd, f: Format, cmd: ServiceCmd) -> Result<i32> {
    match cmd {
        ServiceCmd::Create(a) => {
            let s = services::create(etcd, &spec_of(a).parse()?)?;
            let r = row(&catalog(etcd)?, &s);
            print(f, &r, &HEADERS, |r| table(std::slice::from_ref(r)))?;
        }
        ServiceCmd::Ls => {
            let c = catalog(etcd)?;
            let rows: Vec<ServiceRow> = c.services().map(|s| row(&c, s)).collect();
            print(f, &rows, &HEADERS, |r| table(r))?;
        }
        ServiceCmd::Inspect { name } => {
            let c = catalog(etcd)?;
            let s = c.service(&name).ok_or_else(|| {
                Error::input(format!(
                    "no service named '{name}' in the cluster: see `podnet service ls`"
                ))
            })?;
            let r = row(&c, s);
            print(f, &r, &HEADERS, |r| table(std::slice::from_ref(r)))?;
        }
        ServiceCmd::Rm { names } => {
            return Ok(super::exit::each(&names, |n| services::remove(etcd, n)));
        }
    }
    Ok(0)
}
