//! CNI plugins driven through libcni (`tools/cnitool`), and the reference plugins.

use super::{checked, tools};
use crate::testbed::{Result, Sandbox};
use std::ffi::OsStr;
use std::process::Output;

/// Where Debian's containernetworking-plugins live (bridge, host-local, portmap, loopback..).
pub const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// How `cnitool` calls the plugins: the environment upstream's cnitool reads.
#[derive(Clone, Debug, Default)]
pub struct CniTool {
    /// Directory of the conflists (`NETCONFPATH`).
    pub conf_dir: String,
    /// Plugin directories, searched in order (`CNI_PATH`).
    pub path: Vec<String>,
    /// `CNI_CONTAINERID`; default: derived from the netns path.
    pub container_id: Option<String>,
    /// `CNI_IFNAME`; default `eth0`.
    pub ifname: Option<String>,
    /// `CNI_ARGS`, e.g. `IgnoreUnknown=1;K8S_POD_NAME=web`.
    pub cni_args: Option<String>,
    /// `CAP_ARGS`: JSON object of capability arguments (`{"portMappings":[..]}`), given
    /// as `runtimeConfig` to the plugins whose config declares them.
    pub cap_args: Option<String>,
    /// `CNI_VALID_ATTACHMENTS` for `gc`: JSON list of `{"containerID":..,"ifname":..}`.
    pub valid_attachments: Option<String>,
}

/// `cnitool ARGS...` inside the sandbox: `add|check|del NET NETNS`, `version|validate|gc|
/// status NET` (see tools/cnitool/main.go; libcni 1.1.2 speaks CNI up to 1.0.0).
pub fn cnitool<I, S>(sb: &Sandbox, tool: &CniTool, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let bin = match tools() {
        Ok(t) => t.cnitool.clone(),
        Err(e) => panic!("{e}"),
    };
    let mut c = sb.cmd(bin);
    c.args(args)
        .env("NETCONFPATH", &tool.conf_dir)
        .env("CNI_PATH", tool.path.join(":"));
    for (k, v) in [
        ("CNI_CONTAINERID", &tool.container_id),
        ("CNI_IFNAME", &tool.ifname),
        ("CNI_ARGS", &tool.cni_args),
        ("CAP_ARGS", &tool.cap_args),
        ("CNI_VALID_ATTACHMENTS", &tool.valid_attachments),
    ] {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.output()
        .unwrap_or_else(|e| panic!("testbed: cannot run cnitool: {e}"))
}

/// Symlinks every reference plugin into `dir` (inside the sandbox). containerd 1.6 takes
/// a single CNI `bin_dir`, which must hold `loopback` (the CRI always runs it) and every
/// plugin a conflist names.
pub fn link_reference_plugins(sb: &Sandbox, dir: &str) -> Result<()> {
    checked(
        &format!("link reference plugins into {dir}"),
        sb.sh(&format!(
            "mkdir -p '{dir}' && for p in {REFERENCE_PLUGINS}/*; do ln -sf \"$p\" '{dir}/'; done"
        )),
    )
    .map(|_| ())
}
