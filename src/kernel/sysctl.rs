//! The few sysctls podnet needs, written through /proc/sys (they are per network namespace).

use crate::model::{Error, Result};
use std::fs;

fn path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Read a sysctl such as `net.ipv4.ip_forward`.
pub fn get(key: &str) -> Option<String> {
    fs::read_to_string(path(key))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Set a sysctl unless it already has the value (writing is what costs).
pub fn ensure(key: &str, value: &str) -> Result<()> {
    if get(key).as_deref() == Some(value) {
        return Ok(());
    }
    fs::write(path(key), value).map_err(|e| failed(format!("set {key}={value}"), e))
}

/// `net.ipv4.conf.IFNAME.KEY` (interface names may contain dots, which sysctl syntax can't).
pub fn ensure_if(ifname: &str, key: &str, value: &str) -> Result<()> {
    let p = format!("/proc/sys/net/ipv4/conf/{ifname}/{key}");
    if fs::read_to_string(&p).is_ok_and(|s| s.trim() == value) {
        return Ok(());
    }
    fs::write(&p, value).map_err(|e| failed(format!("set net.ipv4.conf.{ifname}.{key}={value}"), e))
}

/// `net.ipv6.conf.IFNAME.KEY`, as [`ensure_if`] for IPv4.
pub fn ensure_if6(ifname: &str, key: &str, value: &str) -> Result<()> {
    let p = format!("/proc/sys/net/ipv6/conf/{ifname}/{key}");
    if fs::read_to_string(&p).is_ok_and(|s| s.trim() == value) {
        return Ok(());
    }
    fs::write(&p, value).map_err(|e| failed(format!("set net.ipv6.conf.{ifname}.{key}={value}"), e))
}

/// Turn IPv6 forwarding on (`net.ipv6.conf.all.forwarding=1`) without costing the host its
/// router-advertised routes. With forwarding on, the kernel ignores router advertisements on
/// interfaces with `accept_ra=1` and, the moment forwarding turns on, deletes the default
/// routes it learned from them (`rt6_purge_dflt_routers`): a host whose uplink is configured
/// by RA loses its IPv6 default route (moby#43466, podman#6114). `accept_ra=2` keeps them.
/// So, first, every interface with `accept_ra=1` except loopback and those `skip` says are
/// podnet's own gets 2; then forwarding goes on. Nothing when forwarding is on already (the
/// host chose it). Returns the interfaces raised.
pub fn enable_ipv6_forwarding(skip: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    const FORWARDING: &str = "net.ipv6.conf.all.forwarding";
    if get(FORWARDING).as_deref() == Some("1") {
        return Ok(Vec::new());
    }
    let mut raised = Vec::new();
    let dir = "/proc/sys/net/ipv6/conf";
    let entries = fs::read_dir(dir).map_err(|e| failed(format!("list {dir}"), e))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !["all", "default", "lo"].contains(&n.as_str()) && !skip(n))
        .collect();
    names.sort();
    for name in names {
        let p = format!("{dir}/{name}/accept_ra");
        // An interface may vanish between the listing and here: nothing to keep then.
        if fs::read_to_string(&p).is_ok_and(|v| v.trim() == "1") {
            match fs::write(&p, "2") {
                Ok(()) => raised.push(name),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(failed(format!("set net.ipv6.conf.{name}.accept_ra=2"), e)),
            }
        }
    }
    ensure(FORWARDING, "1")?;
    Ok(raised)
}

/// /proc/sys is writable by root only: a refusal there is the kernel's, like netlink's EPERM.
fn failed(op: String, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => Error::kernel(op, libc::EPERM),
        Some(errno) => Error::kernel(op, errno),
        None => Error::failed(format!("{op}: {e}")),
    }
}
