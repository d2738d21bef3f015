//! containerd 1.6 (and its CRI plugin) inside a client sandbox, driven by `cri-client`.

use super::{checked, tools, write_file};
use crate::testbed::{Error, Result, Sandbox};
use std::ffi::OsStr;
use std::process::{Output, Stdio};
use std::time::Duration;

/// The CRI socket of the sandbox's containerd.
pub const CRI_SOCKET: &str = "/run/containerd/containerd.sock";
/// The pod sandbox ("pause") image, imported by [`start_containerd`], never pulled.
pub const PAUSE_IMAGE: &str = "localhost/podnet-pause:1";
const LOG: &str = "/run/containerd/containerd.log";

/// Where containerd's CRI plugin finds CNI.
#[derive(Clone, Debug)]
pub struct ContainerdCni {
    /// The one plugin directory containerd 1.6 reads (`bin_dir`): it must hold `loopback`
    /// and every plugin a conflist names (see [`super::link_reference_plugins`]).
    pub bin_dir: String,
    /// The conflist directory (`conf_dir`); the first conflist by name is the pod network.
    pub conf_dir: String,
}

/// Starts containerd in the sandbox (it dies with the sandbox), with its CRI plugin using
/// `cni`, waits until the CRI answers, and imports the pause and busybox images
/// (localhost/busybox:latest) into the CRI's `k8s.io` namespace.
pub fn start_containerd(sb: &Sandbox, cni: &ContainerdCni) -> Result<()> {
    let config = format!(
        r#"version = 2
root = "/var/lib/containerd"
state = "/run/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{CRI_SOCKET}"

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # The sandbox has no CAP_SYS_RESOURCE, so runc cannot give the pause container its
  # oom_score_adj of -998 ("can't get final child's PID from pipe: EOF"; runc's log says
  # "failed to update /proc/self/oom_score_adj: Permission denied"): clamp it instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{bin}"
    conf_dir = "{conf}"
"#,
        bin = cni.bin_dir,
        conf = cni.conf_dir
    );
    write_file(sb, "/etc/containerd/config.toml", &config)?;
    sb.sh_ok(&format!(
        "mkdir -p '{}' '{}' /run/containerd",
        cni.bin_dir, cni.conf_dir
    ))?;
    let mut c = sb.cmd("sh");
    c.arg("-c")
        .arg(format!(
            "exec containerd --config /etc/containerd/config.toml >{LOG} 2>&1"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    sb.spawn(c)?;
    let ready = sb.wait_until("containerd's CRI", Duration::from_secs(30), || {
        cri(sb, ["version"]).status.success()
    });
    if let Err(e) = ready {
        return Err(Error::new(
            "start containerd",
            format!(
                "{e}\n--- {LOG} ---\n{}",
                crate::testbed::stdout(&sb.sh(&format!("tail -n 40 {LOG}")))
            ),
        ));
    }
    let images = &tools()?.images;
    for archive in ["pause-oci.tar", "busybox-oci.tar"] {
        let path = images.join(archive);
        checked(
            &format!("ctr images import {archive}"),
            ctr(
                sb,
                [
                    OsStr::new("-n"),
                    OsStr::new("k8s.io"),
                    OsStr::new("images"),
                    OsStr::new("import"),
                    path.as_os_str(),
                ],
            ),
        )?;
    }
    Ok(())
}

/// `cri-client --socket CRI_SOCKET ARGS...` inside the sandbox: `runp`, `podip`, `run`,
/// `exec`, `stopp`, `rmp`, ... (see tools/cri-client/src/main.rs).
pub fn cri<I, S>(sb: &Sandbox, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let bin = match tools() {
        Ok(t) => t.cri_client.clone(),
        Err(e) => panic!("{e}"),
    };
    let mut c = sb.cmd(bin);
    c.args(["--socket", CRI_SOCKET]).args(args);
    c.output()
        .unwrap_or_else(|e| panic!("testbed: cannot run cri-client: {e}"))
}

/// `cri-client ARGS...`; Ok(stdout, trimmed) if it exited 0, else an error with its output.
pub fn cri_ok<I, S>(sb: &Sandbox, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    checked(&format!("cri-client {args:?}"), cri(sb, &args)).map(|s| s.trim().to_string())
}

/// `ctr --address CRI_SOCKET ARGS...` inside the sandbox.
pub fn ctr<I, S>(sb: &Sandbox, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = sb.cmd("ctr");
    c.args(["--address", CRI_SOCKET]).args(args);
    c.output()
        .unwrap_or_else(|e| panic!("testbed: cannot run ctr: {e}"))
}
