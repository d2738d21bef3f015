//! The demo's sandbox: new network, mount and PID namespaces. The demo process unshares them,
//! then starts itself again as PID 1 of the new PID namespace; when that process exits, the
//! kernel kills everything started in it and destroys every bridge, veth and namespace made.

use crate::model::{Error, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::process::Command;

/// Outer half: enter fresh namespaces and run the tour as PID 1 there.
pub fn respawn_inside(marker: &str) -> Result<i32> {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID)
        .map_err(|e| {
            Error::failed(format!(
                "create the demo sandbox (new network, mount and PID namespaces): {} — run as root",
                e.desc()
            ))
        })?;
    // Mounts made in the sandbox must not propagate back to the machine.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| Error::failed(format!("make mounts private: {}", e.desc())))?;
    let exe = std::env::current_exe()?;
    let status = Command::new(exe)
        .arg("demo")
        .env(marker, "1")
        .env_remove("PODNET_FAULT")
        .status()?;
    Ok(status.code().unwrap_or(1))
}

/// Inner half (PID 1 of the sandbox): private /proc, /sys, /run and state directory.
pub fn prepare_inside() -> Result<()> {
    let m = |src: &str, dst: &str, fs: &str| {
        mount(Some(src), dst, Some(fs), MsFlags::empty(), None::<&str>)
            .map_err(|e| Error::failed(format!("mount {fs} on {dst}: {}", e.desc())))
    };
    m("proc", "/proc", "proc")?;
    m("sysfs", "/sys", "sysfs")?;
    m("tmpfs", "/run", "tmpfs")?;
    std::fs::create_dir_all("/run/podnet-demo")?;
    // A real host has loopback up (127.0.0.1 published ports need it).
    crate::kernel::link::set_up_by_name(&mut crate::kernel::Rtnl::open()?, "lo")
}
