//! The network configuration on stdin: the spec's keys, podnet's own (named like the flags of
//! `podnet network create`), and the reference bridge plugin's where they mean the same.
//! Unknown keys are accepted and ignored (the spec lets runtimes and other tools add keys);
//! a known key with a wrong type or value is code 7 naming it, a value podnet understands but
//! cannot honour is code 2 naming key and value.
//!
//! podnet's keys: `subnet` (CIDR), `gateway`, `bridge`, `mtu`, `internal` (bool), `icc`
//! (bool, default true), `ipv6` (bool: dual-stack, `--ipv6`), `subnet6` (the IPv6 CIDR, the
//! CLI's second `--subnet`; implies `ipv6`), `ipv6Nat` (bool, default true: `--ipv6-nat`),
//! `root` and `runDir` (podnet's state and runtime directories, for
//! runtimes that do not pass the environment on; default as the CLI's).
//! Bridge-plugin keys: `bridge`, `mtu`, `isGateway` (true only: the gateway is always on the
//! bridge), `ipMasq` (true only, and not with `internal`: podnet masquerades exactly the
//! networks that are not internal), `ipam` (see [`super::ipam`]), `dns`.

use ipnet::{Ipv4Net, Ipv6Net};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::env::is_cni_name;
use super::error::CniError;
use super::ipam::{self, Ipam};
use super::result::{Dns, Route};

/// The network as podnet makes it (what `podnet network create` takes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkParams {
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub bridge: Option<String>,
    pub mtu: Option<u32>,
    pub internal: bool,
    pub icc: bool,
    /// Dual-stack asked for (`Some(true)`), refused (`Some(false)`), or left to the network
    /// that exists (`None`, IPv4-only when it is made).
    pub ipv6: Option<bool>,
    /// The IPv6 subnet (implies `ipv6`); None with `ipv6`: podnet picks a /64.
    pub subnet6: Option<Ipv6Net>,
    /// Masquerade IPv6 egress; None: whatever the network has (true when it is made).
    pub nat6: Option<bool>,
    /// A macvlan network (`"mode": "macvlan"`, or the reference macvlan plugin's `master` +
    /// `mode`): the parent, kernel mode, range and host access.
    pub macvlan: Option<crate::engine::network::MacvlanRequest>,
}

/// The network configuration of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// The CNI network's name (checked against the spec's rule, not podnet's 15-character
    /// limit: the wiring maps it to a podnet network).
    pub name: String,
    /// `type`: the plugin's file name, whatever podnet was installed as.
    pub plugin_type: String,
    pub network: NetworkParams,
    pub ipam: Ipam,
    /// Routes the configuration asks for (only the default route today).
    pub routes: Vec<Route>,
    pub dns: Dns,
    pub root: Option<PathBuf>,
    pub run_dir: Option<PathBuf>,
    /// The whole configuration as received: a delegated IPAM plugin gets it unchanged.
    pub raw: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConf {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    plugin_type: Option<String>,
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    bridge: Option<String>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    internal: Option<bool>,
    #[serde(default)]
    icc: Option<bool>,
    #[serde(default)]
    ipv6: Option<bool>,
    #[serde(default)]
    subnet6: Option<String>,
    #[serde(default, rename = "ipv6Nat")]
    ipv6_nat: Option<bool>,
    #[serde(default)]
    is_gateway: Option<bool>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    macvlan_mode: Option<String>,
    #[serde(default)]
    ip_range: Option<String>,
    #[serde(default)]
    host_access: Option<bool>,
    #[serde(default)]
    ip_masq: Option<bool>,
    #[serde(default)]
    dns: Option<RawDns>,
    #[serde(default)]
    root: Option<PathBuf>,
    #[serde(default)]
    run_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawDns {
    #[serde(default)]
    nameservers: Option<Vec<String>>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    search: Option<Vec<String>>,
    #[serde(default)]
    options: Option<Vec<String>>,
}

/// Deserialize `v` (found at `at`, "" for the top level) into `T`; a type error is code 7
/// naming the field's path.
pub(crate) fn typed<T: DeserializeOwned>(v: &Value, at: &str) -> Result<T, CniError> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let inner = e.path().to_string();
        let field = match (at, inner.as_str()) {
            (a, ".") => a.to_owned(),
            ("", p) => p.to_owned(),
            (a, p) if p.starts_with('[') => format!("{a}{p}"),
            (a, p) => format!("{a}.{p}"),
        };
        CniError::config(&field, format!("{field}: {}", e.inner()))
    })
}

/// serde reads a struct from an array too (by position): where the configuration has an
/// object, check that it is one. `v` may be absent or null (the field is optional).
pub(crate) fn object_at(v: Option<&Value>, field: &str) -> Result<(), CniError> {
    match v {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(CniError::config(
            field,
            format!("{field} must be an object"),
        )),
    }
}

/// Like [`object_at`] for each element of a list of objects at `field`.
pub(crate) fn objects_in(v: Option<&Value>, field: &str) -> Result<(), CniError> {
    if let Some(Value::Array(items)) = v {
        for (n, item) in items.iter().enumerate() {
            object_at(Some(item), &format!("{field}[{n}]"))?;
        }
    }
    Ok(())
}

/// Parse the configuration (`obj` is stdin's top-level object).
pub fn parse(obj: &Map<String, Value>) -> Result<NetConf, CniError> {
    let v = Value::Object(obj.clone());
    object_at(obj.get("dns"), "dns")?;
    let raw: RawConf = typed(&v, "")?;
    let name = raw.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(CniError::config(
            "name",
            "name is missing: the runtime sets it to the network's name",
        ));
    }
    if !is_cni_name(&name) {
        return Err(CniError::config(
            "name",
            format!("name {name:?} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"),
        ));
    }
    let plugin_type = raw.plugin_type.clone().unwrap_or_default();
    if plugin_type.is_empty() {
        return Err(CniError::config(
            "type",
            "type is missing: it names the plugin binary, e.g. \"podnet\"",
        ));
    }
    let internal = raw.internal.unwrap_or(false);
    if raw.is_gateway == Some(false) {
        return Err(CniError::unsupported(
            "isGateway",
            &Value::Bool(false),
            "podnet always puts the network's gateway on its bridge: remove isGateway or set it to true",
        ));
    }
    match raw.ip_masq {
        Some(false) if !internal => {
            return Err(CniError::unsupported(
                "ipMasq",
                &Value::Bool(false),
                "podnet masquerades every network that is not internal: remove ipMasq, or set \"internal\": true for a network that never reaches outside",
            ))
        }
        Some(true) if internal => {
            return Err(CniError::config(
                "ipMasq",
                "ipMasq true contradicts internal true: an internal network never reaches outside",
            ))
        }
        _ => {}
    }
    if let Some(b) = &raw.bridge {
        crate::model::validate_ifname("bridge", b)
            .map_err(|e| CniError::config("bridge", e.to_string()))?;
    }
    if let Some(m) = raw.mtu {
        if !(68..=65535).contains(&m) {
            return Err(CniError::config(
                "mtu",
                format!("mtu {m} is out of range: use 68 to 65535"),
            ));
        }
    }
    for (key, p) in [("root", &raw.root), ("runDir", &raw.run_dir)] {
        if p.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(CniError::config(
                key,
                format!("{key} must be an absolute path"),
            ));
        }
    }
    let top_subnet = raw
        .subnet
        .as_deref()
        .map(|s| ipam::subnet("subnet", s))
        .transpose()?;
    let top_gateway = raw
        .gateway
        .as_deref()
        .map(|s| ipam::gateway("gateway", s))
        .transpose()?;
    let ipam_conf = ipam::parse(obj.get("ipam"), top_subnet, top_gateway)?;
    let (ipv6, subnet6, nat6) = ipv6_keys(raw.ipv6, raw.subnet6.as_deref(), raw.ipv6_nat)?;
    let macvlan = macvlan_keys(&raw)?;
    Ok(NetConf {
        name,
        plugin_type,
        network: NetworkParams {
            subnet: ipam_conf.subnet,
            gateway: ipam_conf.gateway,
            bridge: raw.bridge,
            mtu: raw.mtu,
            internal,
            icc: raw.icc.unwrap_or(true),
            ipv6,
            subnet6,
            nat6,
            macvlan,
        },
        ipam: ipam_conf.ipam,
        routes: ipam_conf.routes,
        dns: raw
            .dns
            .map(|d| Dns {
                nameservers: d.nameservers.unwrap_or_default(),
                domain: d.domain.filter(|s| !s.is_empty()),
                search: d.search.unwrap_or_default(),
                options: d.options.unwrap_or_default(),
            })
            .unwrap_or_default(),
        root: raw.root,
        run_dir: raw.run_dir,
        raw: v,
    })
}

/// The macvlan keys: `"mode": "macvlan"` selects a macvlan network with `parent` (or the
/// reference plugin's `master`), `macvlanMode`, `ipRange`, `hostAccess`; the reference
/// macvlan plugin's shape (`master` with `mode` a kernel mode) is read the same way.
fn macvlan_keys(raw: &RawConf) -> Result<Option<crate::engine::network::MacvlanRequest>, CniError> {
    use crate::model::MacvlanMode;
    let kernel_mode = |key: &str, m: &str| {
        MacvlanMode::parse(key, m).map_err(|e| CniError::config(key, e.to_string()))
    };
    let parent = raw.parent.clone().or(raw.master.clone());
    let (selected, mode) = match raw.mode.as_deref() {
        None => (false, None),
        Some("macvlan") => (true, None),
        Some("bridge") if parent.is_none() => (false, None),
        Some(m) => (true, Some(kernel_mode("mode", m)?)),
    };
    let given = raw.macvlan_mode.is_some() || raw.ip_range.is_some() || raw.host_access.is_some();
    if !selected {
        if given || parent.is_some() {
            return Err(CniError::config(
                "mode",
                "parent/master, macvlanMode, ipRange and hostAccess are for macvlan networks: add \"mode\": \"macvlan\"",
            ));
        }
        return Ok(None);
    }
    let parent = parent.ok_or_else(|| {
        CniError::config(
            "master",
            "a macvlan network needs \"master\" (or \"parent\"): the host interface on the LAN",
        )
    })?;
    crate::model::validate_ifname("master", &parent)
        .map_err(|e| CniError::config("master", e.to_string()))?;
    let mode = match (&raw.macvlan_mode, mode) {
        (Some(m), _) => kernel_mode("macvlanMode", m)?,
        (None, Some(m)) => m,
        (None, None) => MacvlanMode::Bridge,
    };
    let ip_range = raw
        .ip_range
        .as_deref()
        .map(|r| ipam::subnet("ipRange", r))
        .transpose()?;
    Ok(Some(crate::engine::network::MacvlanRequest {
        parent,
        mode,
        ip_range,
        host_access: raw.host_access.unwrap_or(false),
    }))
}

/// `ipv6`, `subnet6` and `ipv6Nat`: `subnet6` implies `ipv6`; each contradiction is code 7.
type Ipv6Keys = (Option<bool>, Option<Ipv6Net>, Option<bool>);

fn ipv6_keys(
    ipv6: Option<bool>,
    subnet6: Option<&str>,
    ipv6_nat: Option<bool>,
) -> Result<Ipv6Keys, CniError> {
    let subnet6 = subnet6
        .map(|s| {
            crate::model::parse_cidr6("subnet6", s)
                .map_err(|e| CniError::config("subnet6", e.to_string()))
        })
        .transpose()?;
    let ipv6 = match (ipv6, subnet6) {
        (Some(false), Some(s)) => {
            return Err(CniError::config(
                "subnet6",
                format!("subnet6 {s} contradicts ipv6 false: remove one of them"),
            ))
        }
        (None, Some(_)) => Some(true),
        (v, _) => v,
    };
    if ipv6_nat.is_some() && ipv6 != Some(true) {
        return Err(CniError::config(
            "ipv6Nat",
            "ipv6Nat needs a dual-stack network: add \"ipv6\": true or a subnet6",
        ));
    }
    Ok((ipv6, subnet6, ipv6_nat))
}

/// DEL's configuration. DEL must finish whenever podnet can find the attachment (the runtime
/// repeats a failed DEL, e.g. kubelet until the pod is gone), and a runtime sends DEL after
/// a refused ADD with the same configuration: so a configuration [`parse`] refuses still
/// gives the network's name, podnet's directories and who does IPAM, with the refusal beside
/// it. Only a missing or invalid `name` or `type` refuses DEL too.
pub fn parse_lenient(obj: &Map<String, Value>) -> Result<(NetConf, Option<CniError>), CniError> {
    let e = match parse(obj) {
        Ok(c) => return Ok((c, None)),
        Err(e) => e,
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (name, plugin_type) = (text("name"), text("type"));
    if !is_cni_name(&name) || plugin_type.is_empty() {
        return Err(e);
    }
    let dir = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let ipam = match obj
        .get("ipam")
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
    {
        Some(t) if !t.is_empty() && t != "podnet" && !t.contains('/') => Ipam::Delegate {
            plugin: t.to_owned(),
        },
        _ => Ipam::Podnet,
    };
    let conf = NetConf {
        name,
        plugin_type,
        network: NetworkParams {
            subnet: None,
            gateway: None,
            bridge: None,
            mtu: None,
            internal: false,
            icc: true,
            ipv6: None,
            subnet6: None,
            nat6: None,
            macvlan: None,
        },
        ipam,
        routes: Vec::new(),
        dns: Dns::default(),
        root: dir("root"),
        run_dir: dir("runDir"),
        raw: Value::Object(obj.clone()),
    };
    Ok((conf, Some(e)))
}

/// An attachment the runtime still considers valid (GC's list).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    #[serde(rename = "ifname")]
    pub ifname: String,
}

/// GC's `cni.dev/valid-attachments`, merged with the older `cni.dev/attachments` that libcni
/// also sends. `None` when neither key is there: the runtime did not say which are valid, so
/// GC must remove no attachment. `null` counts as an empty list (what Go marshals for one).
pub fn valid_attachments(obj: &Map<String, Value>) -> Result<Option<Vec<Attachment>>, CniError> {
    let mut out: Option<Vec<Attachment>> = None;
    for key in ["cni.dev/valid-attachments", "cni.dev/attachments"] {
        let Some(v) = obj.get(key) else { continue };
        objects_in(Some(v), key)?;
        let list: Option<Vec<Attachment>> = typed(v, key)?;
        let all = out.get_or_insert_with(Vec::new);
        for a in list.unwrap_or_default() {
            if !all.contains(&a) {
                all.push(a);
            }
        }
    }
    Ok(out)
}
