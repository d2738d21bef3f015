//! The cluster's services in etcd: `/podnet/v1/services/NAME` (the spec, JSON), with the VIP
//! and every node port claimed by keys of their own (`/podnet/v1/vips/IP`,
//! `/podnet/v1/nodeports/PROTO-PORT`, holding the service's name). A create is one
//! transaction "the service, its VIP and its node ports are all absent → put them all", so two
//! nodes creating at once never hand out the same VIP or node port: the loser of a race on an
//! allocated VIP takes the next free one, a taken name or asked-for address is refused. A
//! remove deletes the three kinds of keys in one transaction, conditional on the spec it read.
//!
//! Cluster services pick their backends by label (`--selector`) among the endpoints every
//! node publishes (`cluster::endpoints`); they are IPv4 (the overlay is).

use super::etcd::{Compare, Etcd, EtcdError, Kv, Op};
use crate::model::field::{NODE_PORT, VIP};
use crate::model::service::{check_service, default_service_range, ServiceRequest};
use crate::model::{Error, Labels, Proto, Result, Service, ServicePort};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

pub const SERVICES: &str = "/podnet/v1/services/";
pub const VIPS: &str = "/podnet/v1/vips/";
pub const NODE_PORTS: &str = "/podnet/v1/nodeports/";

/// How many allocated VIPs a create tries when others take them under its feet.
const ATTEMPTS: usize = 16;

/// A service as the cluster holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterService {
    pub name: String,
    pub vip: Ipv4Addr,
    pub ports: Vec<ServicePort>,
    pub selector: Labels,
    pub affinity_timeout: Option<u32>,
}

impl ClusterService {
    /// The service as the plan takes it.
    pub fn service(&self) -> Service {
        Service {
            name: self.name.clone(),
            vip: self.vip,
            ports: self.ports.clone(),
            affinity_timeout: self.affinity_timeout,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct PortRecord {
    port: u16,
    target_port: u16,
    proto: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_port: Option<u16>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    vip: Ipv4Addr,
    ports: Vec<PortRecord>,
    selector: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    affinity_timeout: Option<u32>,
}

fn proto_of(s: &str) -> Option<Proto> {
    match s {
        "tcp" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        "sctp" => Some(Proto::Sctp),
        _ => None,
    }
}

pub fn service_key(name: &str) -> String {
    format!("{SERVICES}{name}")
}

pub fn vip_key(vip: Ipv4Addr) -> String {
    format!("{VIPS}{vip}")
}

pub fn node_port_key(proto: Proto, port: u16) -> String {
    format!("{NODE_PORTS}{proto}-{port}")
}

pub fn encode(s: &ClusterService) -> Vec<u8> {
    let r = Record {
        vip: s.vip,
        ports: s
            .ports
            .iter()
            .map(|p| PortRecord {
                port: p.port,
                target_port: p.target_port,
                proto: p.proto.to_string(),
                node_port: p.node_port,
            })
            .collect(),
        selector: s.selector.clone(),
        affinity_timeout: s.affinity_timeout,
    };
    serde_json::to_vec(&r).expect("plain struct")
}

/// The service a `services/` key holds; `None` for anything else (skipped: another podnet
/// version may write what this one does not know).
pub fn decode(kv: &Kv) -> Option<ClusterService> {
    let name = kv.key.strip_prefix(SERVICES)?;
    let r: Record = serde_json::from_slice(&kv.value).ok()?;
    let ports = r
        .ports
        .into_iter()
        .map(|p| {
            Some(ServicePort {
                port: p.port,
                target_port: p.target_port,
                proto: proto_of(&p.proto)?,
                node_port: p.node_port,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ClusterService {
        name: name.to_string(),
        vip: r.vip,
        ports,
        selector: r.selector,
        affinity_timeout: r.affinity_timeout,
    })
}

pub fn etcd_error(e: EtcdError) -> Error {
    Error::failed(format!("{e}: check that etcd runs (cluster.json names it)"))
}

/// Every service of the cluster, by name.
pub fn list(etcd: &Etcd) -> Result<Vec<ClusterService>> {
    let (kvs, _) = etcd.list(SERVICES).map_err(etcd_error)?;
    Ok(kvs.iter().filter_map(decode).collect())
}

/// One service.
pub fn get(etcd: &Etcd, name: &str) -> Result<Option<ClusterService>> {
    let (kv, _) = etcd.get(&service_key(name)).map_err(etcd_error)?;
    Ok(kv.as_ref().and_then(decode))
}

/// What a cluster service may be: checked before anything is written.
fn check(req: &ServiceRequest) -> Result<Labels> {
    if req.family.has_v6() || req.vip6.is_some() {
        return Err(Error::input(format!(
            "service {}: cluster services are IPv4 (the overlay is): drop --ip-family and the IPv6 --vip",
            req.name
        )));
    }
    if !req.backends.is_empty() {
        return Err(Error::input(format!(
            "service {}: in a cluster, backends are chosen by label on every node: use --selector KEY=VALUE instead of --backend",
            req.name
        )));
    }
    req.selector.clone().ok_or_else(|| {
        Error::input(format!(
            "service {}: a cluster service needs --selector KEY=VALUE (its backends on every node)",
            req.name
        ))
    })
}

/// The lowest free address of the service range not in `taken`.
fn free_vip(taken: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr> {
    let range = default_service_range();
    let (lo, hi) = (
        u32::from(range.network()) + 1,
        u32::from(range.broadcast()) - 1,
    );
    (lo..=hi)
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip))
        .ok_or_else(|| {
            Error::input(format!(
                "the service range {range} is full: remove a service"
            ))
        })
}

/// `podnet service create` on a cluster node.
pub fn create(etcd: &Etcd, req: &ServiceRequest) -> Result<ClusterService> {
    let selector = check(req)?;
    let range = default_service_range();
    let probe = Service {
        name: req.name.clone(),
        vip: req
            .vip
            .unwrap_or(Ipv4Addr::from(u32::from(range.network()) + 1)),
        ports: req.ports.clone(),
        affinity_timeout: req.affinity_timeout,
    };
    check_service(&probe, &[], &range)?;
    let key = service_key(&req.name);
    let np_keys: Vec<(String, &ServicePort)> = req
        .ports
        .iter()
        .filter_map(|p| p.node_port.map(|n| (node_port_key(p.proto, n), p)))
        .collect();
    let mut taken: BTreeSet<Ipv4Addr> = BTreeSet::new();
    if req.vip.is_none() {
        let (kvs, _) = etcd.list(VIPS).map_err(etcd_error)?;
        taken = kvs
            .iter()
            .filter_map(|kv| kv.key.strip_prefix(VIPS)?.parse().ok())
            .collect();
    }
    for _ in 0..ATTEMPTS {
        let vip = match req.vip {
            Some(v) => v,
            None => free_vip(&taken)?,
        };
        let svc = ClusterService {
            name: req.name.clone(),
            vip,
            ports: req.ports.clone(),
            selector: selector.clone(),
            affinity_timeout: req.affinity_timeout,
        };
        let name = req.name.as_bytes().to_vec();
        let mut cmp = vec![Compare::Absent(key.clone()), Compare::Absent(vip_key(vip))];
        let mut ops = vec![
            Op::Put {
                key: key.clone(),
                value: encode(&svc),
                lease: 0,
            },
            Op::Put {
                key: vip_key(vip),
                value: name.clone(),
                lease: 0,
            },
        ];
        let mut gets = vec![Op::Get(key.clone()), Op::Get(vip_key(vip))];
        for (k, _) in &np_keys {
            cmp.push(Compare::Absent(k.clone()));
            ops.push(Op::Put {
                key: k.clone(),
                value: name.clone(),
                lease: 0,
            });
            gets.push(Op::Get(k.clone()));
        }
        let r = etcd.txn(&cmp, &ops, &gets).map_err(etcd_error)?;
        if r.succeeded {
            return Ok(svc);
        }
        let holder = |i: usize| -> Option<String> {
            r.gets
                .get(i)
                .and_then(|g| g.first())
                .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
        };
        if r.gets.first().is_some_and(|g| !g.is_empty()) {
            return Err(Error::input(format!(
                "service '{}' already exists in the cluster: choose another name or remove it",
                req.name
            )));
        }
        for (i, (_, p)) in np_keys.iter().enumerate() {
            if let Some(owner) = holder(i + 2) {
                return Err(Error::input(format!(
                    "{NODE_PORT} {}/{}: already used by service '{owner}' in the cluster; pick another",
                    p.node_port.unwrap_or_default(),
                    p.proto
                )));
            }
        }
        if let Some(owner) = holder(1) {
            if req.vip.is_some() {
                return Err(Error::input(format!(
                    "{VIP} {vip} is already the address of service '{owner}': pick another or omit {VIP}"
                )));
            }
            // Another node took it since the listing: the next one.
            taken.insert(vip);
        }
    }
    Err(Error::failed(format!(
        "service {}: other nodes kept taking the free VIPs ({ATTEMPTS} tries): try again",
        req.name
    )))
}

/// `podnet service rm` on a cluster node: the spec, its VIP and node ports in one
/// transaction, conditional on the spec being the one read (a concurrent re-create is not
/// removed by accident).
pub fn remove(etcd: &Etcd, name: &str) -> Result<()> {
    let key = service_key(name);
    let (kv, _) = etcd.get(&key).map_err(etcd_error)?;
    let no_such = || {
        Error::input(format!(
            "no service named '{name}' in the cluster: see `podnet service ls`"
        ))
    };
    let kv = kv.ok_or_else(no_such)?;
    let mut ops = vec![Op::Delete(key.clone())];
    if let Some(s) = decode(&kv) {
        ops.push(Op::Delete(vip_key(s.vip)));
        for p in &s.ports {
            if let Some(n) = p.node_port {
                ops.push(Op::Delete(node_port_key(p.proto, n)));
            }
        }
    }
    let r = etcd
        .txn(&[Compare::ValueIs(key, kv.value.clone())], &ops, &[])
        .map_err(etcd_error)?;
    if r.succeeded {
        Ok(())
    } else {
        // Changed or removed meanwhile: look again once.
        match etcd.get(&service_key(name)).map_err(etcd_error)? {
            (None, _) => Err(no_such()),
            _ => remove(etcd, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_junk_is_skipped() {
        let s = ClusterService {
            name: "web".into(),
            vip: "10.43.0.7".parse().unwrap(),
            ports: vec![ServicePort {
                port: 80,
                target_port: 8080,
                proto: Proto::Udp,
                node_port: Some(30080),
            }],
            selector: [("app".to_string(), "web".to_string())].into(),
            affinity_timeout: Some(60),
        };
        let kv = Kv {
            key: service_key("web"),
            value: encode(&s),
            create_revision: 1,
            mod_revision: 1,
            lease: 0,
        };
        assert_eq!(decode(&kv), Some(s));
        let junk = Kv {
            value: b"{\"vip\":1}".to_vec(),
            ..kv.clone()
        };
        assert_eq!(decode(&junk), None);
        let elsewhere = Kv {
            key: "/podnet/v1/nodes/web".into(),
            ..kv
        };
        assert_eq!(decode(&elsewhere), None);
    }

    #[test]
    fn the_lowest_free_vip_is_taken() {
        let taken: BTreeSet<Ipv4Addr> = ["10.43.0.1", "10.43.0.2", "10.43.0.4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            free_vip(&taken).unwrap(),
            "10.43.0.3".parse::<Ipv4Addr>().unwrap()
        );
    }
}
