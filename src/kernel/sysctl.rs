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

/// /proc/sys is writable by root only: a refusal there is the kernel's, like netlink's EPERM.
fn failed(op: String, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => Error::kernel(op, libc::EPERM),
        Some(errno) => Error::kernel(op, errno),
        None => Error::failed(format!("{op}: {e}")),
    }
}
