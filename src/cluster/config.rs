//! The cluster's one shared setting, `/podnet/v1/config`: the pod CIDR every node's subnet
//! comes from, the size of those subnets and the VXLAN network identifier. Written once by
//! `podnet cluster init` with a create-only transaction: the same values again succeed, other
//! values are a conflict (a cluster never changes its address plan under running pods).

use super::etcd::{Compare, Etcd, EtcdError, Op};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Where everything podnet keeps in etcd lives (the version lets a later layout coexist).
pub const PREFIX: &str = "/podnet/v1/";
pub const CONFIG_KEY: &str = "/podnet/v1/config";

/// The longest node prefix: a /28 still holds a gateway and 13 pods.
pub const MAX_NODE_PREFIX: u8 = 28;
/// The largest VXLAN network identifier (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub pod_cidr: Ipv4Net,
    pub node_prefix: u8,
    pub vni: u32,
}

impl ClusterConfig {
    /// Checks the values alone (not against a host's routes): `Err` is a one-line reason.
    pub fn new(pod_cidr: &str, node_prefix: u8, vni: u32) -> Result<ClusterConfig, String> {
        let net: Ipv4Net = pod_cidr.parse().map_err(|_| {
            format!("--pod-cidr {pod_cidr:?} is not an IPv4 CIDR (e.g. 10.244.0.0/16)")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "--pod-cidr {net} has host bits set: use {}",
                net.trunc()
            ));
        }
        if net.addr().is_loopback() || net.addr().is_multicast() || net.addr().is_link_local() {
            return Err(format!("--pod-cidr {net} is not a private unicast range"));
        }
        if node_prefix > MAX_NODE_PREFIX {
            return Err(format!(
                "--node-prefix {node_prefix} leaves too few pod addresses per node: at most {MAX_NODE_PREFIX}"
            ));
        }
        if node_prefix <= net.prefix_len() {
            return Err(format!(
                "--pod-cidr {net} is too small for /{node_prefix} node subnets (it must hold at least 2): give a larger pod CIDR or a longer --node-prefix"
            ));
        }
        if vni == 0 || vni > MAX_VNI {
            return Err(format!("--vni {vni} is out of range 1-{MAX_VNI}"));
        }
        Ok(ClusterConfig {
            pod_cidr: net,
            node_prefix,
            vni,
        })
    }

    /// The node subnets, in order.
    pub fn subnets(&self) -> impl Iterator<Item = Ipv4Net> {
        self.pod_cidr
            .subnets(self.node_prefix)
            .expect("node_prefix checked longer than the pod CIDR's")
    }

    /// The first of `routes` (a host's route destinations) that overlaps the pod CIDR.
    pub fn overlapping_route(&self, routes: &[Ipv4Net]) -> Option<Ipv4Net> {
        routes.iter().copied().find(|r| {
            r.prefix_len() > 0
                && (r.contains(&self.pod_cidr.network()) || self.pod_cidr.contains(&r.network()))
        })
    }

    fn to_json(self) -> Vec<u8> {
        serde_json::to_vec(&self).expect("plain struct")
    }
}

/// What `init` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Init {
    Created,
    AlreadySame,
}

/// Why `init` or `load` failed.
#[derive(Debug)]
pub enum ConfigError {
    Etcd(EtcdError),
    /// The cluster has other values.
    Conflict(ClusterConfig),
    /// No `podnet cluster init` was run against this etcd.
    Missing,
    /// The key holds something this podnet does not understand.
    Corrupt(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Etcd(e) => write!(f, "{e}"),
            ConfigError::Conflict(c) => write!(
                f,
                "the cluster has pod CIDR {}, node prefix /{}, VNI {}",
                c.pod_cidr, c.node_prefix, c.vni
            ),
            ConfigError::Missing => write!(f, "no cluster config in etcd"),
            ConfigError::Corrupt(m) => write!(f, "{m}"),
        }
    }
}

impl From<EtcdError> for ConfigError {
    fn from(e: EtcdError) -> Self {
        ConfigError::Etcd(e)
    }
}

/// Writes `cfg` unless a config exists; equal values are success.
pub fn init(etcd: &Etcd, cfg: &ClusterConfig) -> Result<Init, ConfigError> {
    let r = etcd.txn(
        &[Compare::Absent(CONFIG_KEY.into())],
        &[Op::Put {
            key: CONFIG_KEY.into(),
            value: cfg.to_json(),
            lease: 0,
        }],
        &[Op::Get(CONFIG_KEY.into())],
    )?;
    if r.succeeded {
        return Ok(Init::Created);
    }
    let existing = r
        .gets
        .first()
        .and_then(|g| g.first())
        .ok_or_else(|| ConfigError::Corrupt("the config vanished during init: retry".into()))?;
    let have = parse(&existing.value)?;
    if have == *cfg {
        Ok(Init::AlreadySame)
    } else {
        Err(ConfigError::Conflict(have))
    }
}

/// The cluster's config.
pub fn load(etcd: &Etcd) -> Result<ClusterConfig, ConfigError> {
    match etcd.get(CONFIG_KEY)?.0 {
        Some(kv) => parse(&kv.value),
        None => Err(ConfigError::Missing),
    }
}

fn parse(value: &[u8]) -> Result<ClusterConfig, ConfigError> {
    serde_json::from_slice(value)
        .map_err(|e| ConfigError::Corrupt(format!("{CONFIG_KEY} is not a podnet config: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_with_the_flag_they_concern() {
        let table: [(&str, u8, u32, &str); 9] = [
            ("10.244.0.0", 24, 1, "--pod-cidr"),
            ("10.244.0.0/33", 24, 1, "--pod-cidr"),
            ("fd00::/48", 64, 1, "--pod-cidr"),
            ("10.244.1.0/16", 24, 1, "host bits"),
            ("10.244.0.0/24", 24, 1, "too small"),
            ("10.244.0.0/26", 24, 1, "too small"),
            ("10.244.0.0/16", 30, 1, "--node-prefix"),
            ("10.244.0.0/16", 24, 0, "--vni"),
            ("10.244.0.0/16", 24, 1 << 24, "--vni"),
        ];
        for (cidr, prefix, vni, want) in table {
            let err = ClusterConfig::new(cidr, prefix, vni).expect_err(cidr);
            assert!(err.contains(want), "{cidr} /{prefix} vni {vni}: {err}");
        }
        let ok = ClusterConfig::new("10.244.0.0/16", 24, 1).unwrap();
        assert_eq!(ok.subnets().count(), 256);
    }

    #[test]
    fn a_route_overlapping_the_pod_cidr_either_way_is_found() {
        let cfg = ClusterConfig::new("10.244.0.0/16", 24, 1).unwrap();
        let r = |s: &str| s.parse::<Ipv4Net>().unwrap();
        assert_eq!(cfg.overlapping_route(&[r("192.168.1.0/24")]), None);
        assert_eq!(cfg.overlapping_route(&[r("0.0.0.0/0")]), None);
        assert_eq!(
            cfg.overlapping_route(&[r("192.168.1.0/24"), r("10.244.7.0/24")]),
            Some(r("10.244.7.0/24"))
        );
        assert_eq!(
            cfg.overlapping_route(&[r("10.0.0.0/8")]),
            Some(r("10.0.0.0/8"))
        );
    }
}
