//! A container's own `/etc/resolv.conf` and `/etc/hosts`, and its host name (issue 10): the
//! files are written in the run dir (`<run_dir>/etc/NAME/`), and the container's process
//! gets a mount namespace of its own (a slave of the host's, so the host's later mounts still
//! reach it) where they are bind-mounted over `/etc/...`, and a UTS namespace with its host
//! name — as Docker does. The host's own files and name are never changed. `exec` enters the
//! same namespaces, so what it sees is what the container sees.

use crate::engine::Ctx;
use crate::model::etc::{self, EtcSpec, HostResolv};
use crate::model::{Endpoint, Mode, Result};
use std::ffi::CString;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const RESOLV: &str = "/etc/resolv.conf";
const HOSTS: &str = "/etc/hosts";

/// Where a container's files live.
pub fn dir(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.run_dir.join("etc").join(name)
}

/// Remove a container's files (idempotent; part of its teardown).
pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    match std::fs::remove_dir_all(dir(ctx, name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// What the container's process does between fork and exec, prepared beforehand (no
/// allocation happens in the child).
#[derive(Clone)]
pub struct Enter {
    /// (source, target) bind mounts.
    mounts: Vec<(CString, CString)>,
    hostname: Vec<u8>,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths podnet makes have no NUL")
}

/// Write the container's files for `ep` (its first network's endpoint; its later networks'
/// addresses are listed too) and prepare what its process does to see them.
pub fn prepare(ctx: &Ctx, ep: &Endpoint, spec: &EtcSpec) -> Result<Enter> {
    let mut addrs: Vec<IpAddr> = ep.ip.map(IpAddr::V4).into_iter().collect();
    addrs.extend(ep.ip6.map(IpAddr::V6));
    for m in ctx.store.members_of(ep.id)? {
        if let Some(me) = ctx.store.endpoint_by_id(m.endpoint_id)? {
            addrs.extend(me.ip.map(IpAddr::V4));
            addrs.extend(me.ip6.map(IpAddr::V6));
        }
    }
    // The first network's name servers when it has DNS (the agent on its gateways); the
    // default network has none, as Docker's default bridge has none.
    let network_dns = match &ep.mode {
        Mode::Bridge(n) => ctx
            .store
            .network(n)?
            .map(|n| n.dns_servers())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let host = HostResolv::parse(&std::fs::read_to_string(RESOLV).unwrap_or_default());
    let d = dir(ctx, &ep.name);
    std::fs::create_dir_all(&d)?;
    let files = [
        (
            d.join("resolv.conf"),
            etc::resolv_conf(spec, &network_dns, &host),
            RESOLV,
        ),
        (d.join("hosts"), etc::hosts(spec, &ep.name, &addrs), HOSTS),
    ];
    let mut mounts = Vec::new();
    for (path, text, target) in files {
        std::fs::write(&path, text)?;
        // Only over a file that is there: a host without one keeps it absent in the
        // container too (a bind mount needs a target, and the host's /etc is not ours).
        if Path::new(target).is_file() {
            mounts.push((cstr(&path), cstr(Path::new(target))));
        }
    }
    let hostname = spec
        .hostname
        .as_deref()
        .unwrap_or(&ep.name)
        .as_bytes()
        .to_vec();
    Ok(Enter { mounts, hostname })
}

impl Enter {
    /// In the child, between fork and exec: own mount and UTS namespaces, the files mounted,
    /// the host name set. Only async-signal-safe calls (unshare, mount, sethostname).
    pub fn apply(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| match r {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        };
        // SAFETY: plain syscalls on NUL-terminated strings and a buffer that outlive them.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS))?;
            // Slave: nothing mounted here reaches the host; the host's later mounts reach in.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ))?;
            for (src, target) in &self.mounts {
                check(libc::mount(
                    src.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            check(libc::sethostname(
                self.hostname.as_ptr().cast(),
                self.hostname.len(),
            ))?;
        }
        Ok(())
    }
}
