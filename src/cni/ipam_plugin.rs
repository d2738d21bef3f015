//! Running a delegated IPAM plugin (SPEC.md section 4): found in CNI_PATH, run with every
//! CNI_* variable podnet got (CNI_COMMAND set to the verb), the *whole* network configuration
//! on stdin, its stderr going to podnet's stderr; success is exit 0 and, for ADD, a result on
//! stdout in any version podnet reads.
//!
//! Only calls with delegated IPAM spawn anything: podnet's own IPAM path is untouched.

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::env::Env;
use super::error::{code, CniError};
use super::result::{self, Dns, Route};
use super::version::{Version, SUPPORTED};

/// The IPAM plugin of one call.
pub struct Plugin<'a> {
    pub name: &'a str,
    pub cni_path: &'a [PathBuf],
    /// The CNI_* variables podnet was run with.
    pub env: &'a Env,
    /// The network configuration as podnet received it.
    pub conf: &'a Value,
}

/// What the plugin's ADD gave: one IPv4 address (with the prefix of the plugin's range), at
/// most one IPv6 address (a dual-stack range set), and the gateways, routes and DNS it
/// suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub address6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub routes: Vec<Route>,
    pub dns: Dns,
}

/// A variable to set for one call (`Some`) or leave out (`None`), besides CNI_COMMAND.
type Override<'a> = (&'a str, Option<&'a str>);

impl Plugin<'_> {
    /// The plugin's binary: the first executable file of that name in CNI_PATH's directories.
    pub fn locate(&self) -> Result<PathBuf, CniError> {
        if self.cni_path.is_empty() {
            return Err(CniError::env(
                "CNI_PATH",
                format!(
                    "CNI_PATH is missing: podnet needs it to find the IPAM plugin {:?} the configuration names",
                    self.name
                ),
            ));
        }
        self.cni_path
            .iter()
            .map(|d| d.join(self.name))
            .find(|p| is_executable(p))
            .ok_or_else(|| {
                CniError::config(
                    "ipam.type",
                    format!(
                        "the IPAM plugin {:?} is not in CNI_PATH ({}): install it there or name another ipam.type",
                        self.name,
                        self.cni_path
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(":")
                    ),
                )
            })
    }

    /// ADD. The caller must call [`Plugin::del`] when anything after this fails (and, as the
    /// spec asks, when this fails after the plugin ran).
    pub fn add(&self, bin: &Path) -> Result<Lease, CniError> {
        let out = self.exec(bin, "ADD", &[], &self.stdin())?;
        lease(self.name, &out)
    }

    /// DEL: release whatever the plugin holds for this call's container and interface.
    pub fn del(&self, bin: &Path) -> Result<(), CniError> {
        self.exec(bin, "DEL", &[], &self.stdin()).map(|_| ())
    }

    /// DEL of another attachment with configuration `conf` (GC's fallback for a plugin
    /// without GC).
    pub fn del_of(
        &self,
        bin: &Path,
        conf: &Value,
        container_id: &str,
        ifname: &str,
    ) -> Result<(), CniError> {
        let o = [
            ("CNI_CONTAINERID", Some(container_id)),
            ("CNI_IFNAME", Some(ifname)),
            ("CNI_NETNS", None),
            ("CNI_ARGS", None),
        ];
        let stdin = serde_json::to_vec(conf).unwrap_or_default();
        self.exec(bin, "DEL", &o, &stdin).map(|_| ())
    }

    /// CHECK, STATUS or GC: success or the plugin's error.
    pub fn verb(&self, bin: &Path, verb: &str) -> Result<(), CniError> {
        self.exec(bin, verb, &[], &self.stdin()).map(|_| ())
    }

    /// The versions the plugin speaks, from its VERSION answer (asked in version `v`).
    pub fn versions(&self, bin: &Path, v: Version) -> Result<Vec<Version>, CniError> {
        let stdin = serde_json::to_vec(&json!({"cniVersion": v.as_str()})).unwrap_or_default();
        let out = self.exec(bin, "VERSION", &[], &stdin)?;
        let reply: Value = serde_json::from_slice(&out).map_err(|e| {
            CniError::new(
                code::DECODE,
                "cannot decode IPAM plugin's VERSION",
                format!("IPAM plugin {}: VERSION printed no JSON: {e}", self.name),
            )
        })?;
        Ok(reply["supportedVersions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                SUPPORTED
                    .into_iter()
                    .find(|v| Some(v.as_str()) == s.as_str())
            })
            .collect())
    }

    /// The same plugin given the configuration with `cniVersion` `v` (for a DEL the plugin
    /// would refuse in the request's newer version: DEL prints no result, its input is the
    /// same in every version since 0.4.0).
    pub fn at_version(&self, v: Version) -> Value {
        let mut c = self.conf.clone();
        c["cniVersion"] = json!(v.as_str());
        c
    }

    fn stdin(&self) -> Vec<u8> {
        serde_json::to_vec(self.conf).unwrap_or_default()
    }

    /// Run the plugin once: stdout on success, the plugin's error otherwise.
    fn exec(
        &self,
        bin: &Path,
        verb: &str,
        overrides: &[Override],
        stdin: &[u8],
    ) -> Result<Vec<u8>, CniError> {
        let mut cmd = Command::new(bin);
        // Exactly podnet's own CNI_* variables (not a stale one of the process's).
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("CNI_")) {
                cmd.env_remove(k);
            }
        }
        for (k, v) in self.env.vars() {
            cmd.env(k, v);
        }
        for (k, v) in overrides {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env("CNI_COMMAND", verb)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let cannot = |e: std::io::Error| {
            CniError::new(
                code::FAILED,
                format!("cannot run IPAM plugin {}", self.name),
                format!("running {} {verb} failed: {e}", bin.display()),
            )
        };
        let mut child = cmd.spawn().map_err(cannot)?;
        let mut pipe = child.stdin.take();
        // Written from a thread: a plugin that prints before it reads cannot block podnet.
        let out = std::thread::scope(|s| {
            s.spawn(move || {
                if let Some(p) = pipe.as_mut() {
                    // A plugin that exits without reading closes the pipe: its exit says why.
                    let _ = p.write_all(stdin);
                }
            });
            child.wait_with_output()
        })
        .map_err(cannot)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(CniError::from_delegate(
                self.name,
                out.status.code().unwrap_or(-1),
                &out.stdout,
            ))
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The lease in an IPAM plugin's ADD result (its own `cniVersion` says its shape): exactly one
/// IPv4 address and at most one IPv6 one, since a podnet attachment has one of each family
/// (IPv4 always: podnet has no IPv6-only network).
pub fn lease(plugin: &str, stdout: &[u8]) -> Result<Lease, CniError> {
    let what = format!("IPAM plugin {plugin}");
    let v: Value = serde_json::from_slice(stdout).map_err(|e| {
        CniError::new(
            code::DECODE,
            "cannot decode IPAM result",
            format!("{what} printed no JSON result: {e}"),
        )
    })?;
    let version = Version::from_request(v.get("cniVersion")).map_err(|mut e| {
        e.details = format!("{what}'s result: {}", e.details);
        e
    })?;
    let r = result::parse(&v, version, &what)?;
    let (v4, v6): (Vec<_>, Vec<_>) = r.ips.iter().partition(|ip| ip.address.addr().is_ipv4());
    let unsupported = |why: String| {
        CniError::new(
            code::UNSUPPORTED_FIELD,
            format!("unsupported IPAM result from {plugin}"),
            why,
        )
    };
    let ip6 = match v6.as_slice() {
        [] => None,
        [one] => Some(*one),
        more => {
            return Err(unsupported(format!(
                "{what} gave {} IPv6 addresses: podnet gives an attachment one per family, configure one IPv6 range",
                more.len()
            )))
        }
    };
    let ip = match v4.as_slice() {
        [one] => *one,
        [] => {
            return Err(unsupported(format!(
                "{what} gave no IPv4 address: podnet networks always have IPv4, add an IPv4 range to the plugin's ranges"
            )))
        }
        more => {
            return Err(unsupported(format!(
            "{what} gave {} IPv4 addresses: podnet gives an attachment one, configure one range",
            more.len()
        )))
        }
    };
    let (IpAddr::V4(addr), prefix) = (ip.address.addr(), ip.address.prefix_len()) else {
        unreachable!("partitioned as IPv4")
    };
    let gateway = match ip.gateway {
        Some(IpAddr::V4(g)) => Some(g),
        _ => None,
    };
    let (address6, gateway6) = match ip6 {
        Some(c) => match c.address {
            ipnet::IpNet::V6(a) => (
                Some(a),
                match c.gateway {
                    Some(IpAddr::V6(g)) => Some(g),
                    _ => None,
                },
            ),
            ipnet::IpNet::V4(_) => unreachable!("partitioned as IPv6"),
        },
        None => (None, None),
    };
    Ok(Lease {
        address: Ipv4Net::new(addr, prefix).map_err(|e| unsupported(e.to_string()))?,
        gateway,
        address6,
        gateway6,
        routes: r.routes,
        dns: r.dns,
    })
}
