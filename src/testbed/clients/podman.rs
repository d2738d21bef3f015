//! Podman 4.3 with its CNI network backend, inside a client sandbox.

use super::{checked, tools, write_file};
use crate::testbed::{Result, Sandbox};
use std::ffi::OsStr;
use std::process::Output;

/// The image [`setup_podman`] imports: busybox (all applets) from Debian's busybox-static.
pub const BUSYBOX: &str = "localhost/busybox:latest";

/// Podman's CNI backend settings.
#[derive(Clone, Debug)]
pub struct PodmanCni {
    /// Where podman looks for plugin binaries, in order (`cni_plugin_dirs`); a conflist's
    /// `type` may name any binary there.
    pub plugin_dirs: Vec<String>,
    /// Where podman reads (and writes) conflists (`network_config_dir`).
    pub conf_dir: String,
}

impl PodmanCni {
    /// `plugin_dir` (e.g. podnet's) first, then the reference plugins in `/usr/lib/cni`.
    pub fn new(plugin_dir: &str, conf_dir: &str) -> PodmanCni {
        PodmanCni {
            plugin_dirs: vec![plugin_dir.to_string(), "/usr/lib/cni".to_string()],
            conf_dir: conf_dir.to_string(),
        }
    }
}

/// Configures podman in the sandbox (the sandbox's own `/etc/containers`, which every
/// podman process there reads: also `podman container cleanup`, which conmon starts without
/// our environment and which runs the CNI DEL of a container that exits by itself) and
/// imports [`BUSYBOX`]. Storage lives in the sandbox's tmpfs `/var/lib/containers` and
/// `/run`.
pub fn setup_podman(sb: &Sandbox, cni: &PodmanCni) -> Result<()> {
    let dirs: Vec<String> = cni.plugin_dirs.iter().map(|d| format!("{d:?}")).collect();
    let containers_conf = format!(
        r#"[network]
network_backend = "cni"
cni_plugin_dirs = [{dirs}]
network_config_dir = "{conf}"

[engine]
# No systemd here; and crun 1.8 refuses this machine's hybrid cgroup v1+v2 layout
# ("cgroups in hybrid mode not supported"), runc works.
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
tmp_dir = "/run/libpod"
"#,
        dirs = dirs.join(", "),
        conf = cni.conf_dir
    );
    let storage_conf = r#"[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
"#;
    write_file(sb, "/etc/containers/containers.conf", &containers_conf)?;
    write_file(sb, "/etc/containers/storage.conf", storage_conf)?;
    sb.sh_ok(&format!("mkdir -p '{}'", cni.conf_dir))?;
    for d in &cni.plugin_dirs {
        sb.sh_ok(&format!("mkdir -p '{d}'"))?;
    }
    let rootfs = tools()?.images.join("busybox-rootfs.tar");
    podman_ok(
        sb,
        [
            OsStr::new("import"),
            OsStr::new("--quiet"),
            OsStr::new("--change"),
            OsStr::new(r#"CMD ["/bin/sh"]"#),
            rootfs.as_os_str(),
            OsStr::new(BUSYBOX),
        ],
    )?;
    Ok(())
}

/// `podman ARGS...` inside the sandbox (after [`setup_podman`]).
pub fn podman<I, S>(sb: &Sandbox, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = sb.cmd("podman");
    c.args(args);
    c.output()
        .unwrap_or_else(|e| panic!("testbed: cannot run podman: {e}"))
}

/// `podman ARGS...`; Ok(stdout) if it exited 0, else an error with its output.
pub fn podman_ok<I, S>(sb: &Sandbox, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    checked(&format!("podman {args:?}"), podman(sb, &args))
}

/// The IPv4 address podman reports for `container` on `network` (`podman inspect`).
pub fn podman_ip(sb: &Sandbox, container: &str, network: &str) -> Result<String> {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    Ok(podman_ok(sb, ["inspect", container, "--format", &format])?
        .trim()
        .to_string())
}
