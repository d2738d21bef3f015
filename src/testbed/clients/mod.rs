//! Real container runtimes as a network plugin's callers, for tests (issue 8): Podman 4.3
//! with its CNI backend, containerd 1.6's CRI driven by `cri-client` (the calls kubelet
//! makes), Debian's libcni through `cnitool`, and netavark 2.1 running driver plugins.
//!
//! A client test runs in a sandbox made with [`SandboxConfig::for_clients`]: private
//! system directories (the runtimes write to `/etc` and `/var/lib` whatever their flags
//! say) and cgroups of its own (runc makes cgroup directories). Each helper writes its
//! runtime's configuration *inside* that sandbox, at the runtime's default place, so
//! processes the runtime starts on its own (podman's `container cleanup`, spawned by conmon
//! without our environment) read the same configuration.
//!
//! The tools that Debian does not ship (netavark 2.1, `cri-client`, `cnitool`) and the
//! offline images are built by `scripts/clients/prepare.sh` into a cache outside the clone;
//! `scripts/test.sh` runs it and passes their paths in the environment ([`tools`]).
//!
//! [`SandboxConfig::for_clients`]: super::SandboxConfig::for_clients

mod cni;
mod containerd;
mod netavark;
mod podman;

pub use cni::{cnitool, link_reference_plugins, CniTool, REFERENCE_PLUGINS};
pub use containerd::{cri, cri_ok, ctr, start_containerd, ContainerdCni, CRI_SOCKET};
pub use netavark::{netavark, netavark_cmd, NETAVARK_CONFIG};
pub use podman::{podman, podman_ip, podman_ok, setup_podman, PodmanCni, BUSYBOX};

use super::{Error, Result};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The client tools built by `scripts/clients/prepare.sh`.
#[derive(Clone, Debug)]
pub struct Tools {
    /// netavark 2.1 (`PODNET_NETAVARK`).
    pub netavark: PathBuf,
    /// tools/cri-client (`PODNET_CRI_CLIENT`).
    pub cri_client: PathBuf,
    /// tools/cnitool (`PODNET_CNITOOL`).
    pub cnitool: PathBuf,
    /// Directory of the offline images (`PODNET_CLIENT_IMAGES`): `busybox-rootfs.tar`,
    /// `busybox-oci.tar` (localhost/busybox:latest), `pause-oci.tar`
    /// (localhost/podnet-pause:1).
    pub images: PathBuf,
}

const VARS: [&str; 4] = [
    "PODNET_NETAVARK",
    "PODNET_CRI_CLIENT",
    "PODNET_CNITOOL",
    "PODNET_CLIENT_IMAGES",
];

/// The client tools: from the environment `scripts/test.sh` sets, else asked of
/// `scripts/clients/prepare.sh` in check mode (which reports what is not built yet
/// instead of building it: builds belong to the script, not to a test).
pub fn tools() -> Result<&'static Tools> {
    static TOOLS: OnceLock<std::result::Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(find_tools)
        .as_ref()
        .map_err(|e| Error::new("client tools", e))
}

fn find_tools() -> std::result::Result<Tools, String> {
    let mut vals: Vec<Option<String>> = VARS.iter().map(|v| std::env::var(v).ok()).collect();
    if vals.iter().any(Option::is_none) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/clients/prepare.sh");
        let out = Command::new("bash")
            .arg(&script)
            .env("PODNET_CLIENTS_CHECK", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} is not set and the tools are not built: run scripts/test.sh, or \
                 `eval \"$(scripts/clients/prepare.sh)\"` before the tests\n{}",
                VARS.join("/"),
                super::stderr(&out)
            ));
        }
        for line in super::stdout(&out).lines() {
            if let Some((k, v)) = line.split_once('=') {
                if let Some(i) = VARS.iter().position(|n| *n == k) {
                    vals[i].get_or_insert_with(|| v.to_string());
                }
            }
        }
    }
    let mut paths = Vec::new();
    for (v, name) in vals.into_iter().zip(VARS) {
        let p = PathBuf::from(v.ok_or_else(|| format!("prepare.sh printed no {name}"))?);
        if !p.exists() {
            return Err(format!("{name}={} does not exist", p.display()));
        }
        paths.push(p);
    }
    let [netavark, cri_client, cnitool, images] =
        <[PathBuf; 4]>::try_from(paths).expect("one path per variable");
    Ok(Tools {
        netavark,
        cri_client,
        cnitool,
        images,
    })
}

/// Runs `cmd` with `input` on its stdin; its output. Panics only if it cannot start.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("testbed: cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // A writer thread: a child that answers before reading all its input cannot block us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("testbed: wait for {cmd:?}: {e}"));
    let _ = writer.join();
    out
}

/// Ok(stdout) when `out` is a success, else an error naming `what` with the output.
pub(crate) fn checked(what: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(super::stdout(&out))
    } else {
        Err(Error::new(what, super::describe(&out)))
    }
}

/// Writes `text` to `path` inside the sandbox (creating its directory).
pub fn write_file(sb: &super::Sandbox, path: &str, text: &str) -> Result<()> {
    let dir = std::path::Path::new(path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut c = sb.cmd("sh");
    c.arg("-c")
        .arg("mkdir -p \"$1\" && cat > \"$2\"")
        .arg("sh")
        .arg(dir)
        .arg(path);
    checked(
        &format!("write {path}"),
        output_with_stdin(c, text.as_bytes()),
    )
    .map(|_| ())
}
