//! A cgroup subtree of its own for a sandbox that runs container runtimes.
//!
//! runc (and podman's conmon) make cgroup directories on the cgroup filesystem, which is
//! the machine's, not the sandbox's. So a client sandbox gets a directory
//! `podnet-sb-PID-START-N` below the test process's own cgroup in every hierarchy, its
//! processes join it, and it gets a cgroup namespace rooted there, with the hierarchies
//! mounted afresh under its `/sys/fs/cgroup`: every path a runtime makes (`libpod_parent/..`,
//! `k8s.io/..`) lands inside the subtree, which [`CgroupTree::remove`] deletes when the
//! sandbox goes. A subtree whose creator died without removing it (SIGKILL) is swept by
//! the next client sandbox.

use super::{Error, Result};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PREFIX: &str = "podnet-sb-";
static SEQ: AtomicU64 = AtomicU64::new(0);

/// One mounted cgroup hierarchy of this machine, as the sandbox re-mounts it.
#[derive(Clone, Debug)]
struct Hierarchy {
    /// Where it is mounted (e.g. `/sys/fs/cgroup/memory`).
    mountpoint: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    fstype: String,
    /// Mount options that select the hierarchy (`cpu,cpuacct`, `none,name=systemd`).
    options: String,
    /// This process's cgroup in it, as a directory.
    own_dir: PathBuf,
}

/// The sandbox's cgroup directories, one per hierarchy.
#[derive(Debug)]
pub(super) struct CgroupTree {
    hierarchies: Vec<Hierarchy>,
    dirs: Vec<PathBuf>,
}

impl CgroupTree {
    /// Makes the directories (sweeping those of dead sandboxes first).
    pub(super) fn create() -> Result<CgroupTree> {
        let hierarchies = hierarchies()?;
        let name = format!(
            "{PREFIX}{}-{}-{}",
            std::process::id(),
            start_time(std::process::id()).unwrap_or(0),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut tree = CgroupTree {
            hierarchies,
            dirs: Vec::new(),
        };
        for h in &tree.hierarchies {
            sweep_stale(&h.own_dir);
        }
        for h in tree.hierarchies.clone() {
            let dir = h.own_dir.join(&name);
            std::fs::create_dir(&dir)
                .map_err(|e| Error::new(format!("mkdir {}", dir.display()), e))?;
            tree.dirs.push(dir.clone());
            inherit_cpuset(&h.own_dir, &dir)?;
        }
        Ok(tree)
    }

    /// The subtree's directories on the machine's cgroup filesystems, one per hierarchy.
    pub(super) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The `cgroup.procs` files a process writes `0` to, to join the subtree. Made before
    /// a fork so that the child only has to open and write (see [`join`]).
    pub(super) fn procs_files(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .map(|d| {
                let p = d.join("cgroup.procs");
                CString::new(p.into_os_string().into_encoded_bytes()).expect("no NUL in path")
            })
            .collect()
    }

    /// Shell commands, run in the sandbox's new mount and cgroup namespaces after `/sys` is
    /// remounted, that mount every hierarchy again: the mounts then show the subtree as
    /// their root.
    pub(super) fn mount_script(&self) -> String {
        let mut s = String::new();
        let base = Path::new("/sys/fs/cgroup");
        if !self.hierarchies.iter().any(|h| h.mountpoint == base) {
            s.push_str("mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup\n");
        }
        for h in &self.hierarchies {
            let opts = if h.options.is_empty() {
                String::new()
            } else {
                format!("-o {} ", h.options)
            };
            s.push_str(&format!(
                "mkdir -p '{m}' && mount -t {t} {opts}{t} '{m}'\n",
                m = h.mountpoint.display(),
                t = h.fstype
            ));
        }
        s
    }

    /// Removes the subtree, deepest first. The sandbox's processes must be gone; cgroups
    /// of processes that are still exiting are retried for a few seconds.
    pub(super) fn remove(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = Vec::new();
        for dir in std::mem::take(&mut self.dirs) {
            loop {
                match remove_tree(&dir) {
                    Ok(()) => break,
                    Err(e) if Instant::now() > deadline => {
                        left.push(format!("{}: {e}", dir.display()));
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(left.join("; "))
        }
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            eprintln!("testbed: cgroups left behind: {e}");
        }
    }
}

/// Joins the cgroups whose `cgroup.procs` files are `files`. Only open/write/close: safe
/// between fork and exec.
pub(super) fn join(files: &[CString]) -> std::io::Result<()> {
    for f in files {
        // SAFETY: `f` is a valid NUL-terminated path; the fd is closed before returning.
        unsafe {
            let fd = libc::open(f.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if n != 1 {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// Every cgroup hierarchy mounted here, with this process's directory in it.
fn hierarchies() -> Result<Vec<Hierarchy>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::new("read /proc/self/mountinfo", e))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::new("read /proc/self/cgroup", e))?;
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        // id parent dev root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 || !(r[0] == "cgroup" || r[0] == "cgroup2") {
            continue;
        }
        let (root, mountpoint) = (l[3], PathBuf::from(unescape(l[4])));
        let fstype = r[0].to_string();
        let selectors: Vec<&str> = if fstype == "cgroup" {
            r[2].split(',')
                .filter(|o| is_controller(o) || o.starts_with("name="))
                .collect()
        } else {
            Vec::new()
        };
        // This process's line in /proc/self/cgroup for the same hierarchy.
        let path = own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let same = if fstype == "cgroup2" {
                ctrls.is_empty()
            } else {
                let mut a: Vec<&str> = ctrls.split(',').collect();
                let mut b = selectors.clone();
                a.sort_unstable();
                b.sort_unstable();
                !ctrls.is_empty() && a == b
            };
            same.then_some(path)
        });
        let Some(path) = path else { continue };
        let Ok(rel) = Path::new(path).strip_prefix(root) else {
            continue; // our cgroup is outside what this mount shows
        };
        if out
            .iter()
            .any(|h| h.fstype == fstype && h.options_eq(&selectors))
        {
            continue; // the same hierarchy mounted twice
        }
        let options = if fstype == "cgroup2" {
            String::new()
        } else if selectors.iter().all(|s| s.starts_with("name=")) {
            format!("none,{}", selectors.join(","))
        } else {
            selectors.join(",")
        };
        out.push(Hierarchy {
            own_dir: mountpoint.join(rel),
            mountpoint,
            fstype,
            options,
        });
    }
    if out.is_empty() {
        return Err(Error::new(
            "find cgroup hierarchies",
            "no cgroup filesystem is mounted",
        ));
    }
    Ok(out)
}

impl Hierarchy {
    fn options_eq(&self, selectors: &[&str]) -> bool {
        let mut a: Vec<&str> = self
            .options
            .split(',')
            .filter(|o| !o.is_empty() && *o != "none")
            .collect();
        let mut b = selectors.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

fn is_controller(o: &str) -> bool {
    matches!(
        o,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "net_prio"
            | "blkio"
            | "perf_event"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
    )
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and no process can join
/// it until they are set: copy the parent's.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let target = dir.join(file);
        let Ok(now) = std::fs::read_to_string(&target) else {
            continue;
        };
        if !now.trim().is_empty() {
            continue;
        }
        let value = std::fs::read_to_string(parent.join(file))
            .map_err(|e| Error::new(format!("read {}", parent.join(file).display()), e))?;
        std::fs::write(&target, value.trim())
            .map_err(|e| Error::new(format!("write {}", target.display()), e))?;
    }
    Ok(())
}

/// rmdir of `dir` and everything below it, deepest first (cgroup directories cannot be
/// removed recursively, and their control files cannot be unlinked).
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes the subtrees under `own_dir` of sandboxes whose creating process is gone.
fn sweep_stale(own_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(own_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let mut parts = rest.split('-');
        let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
        let start = parts.next().and_then(|p| p.parse::<u64>().ok());
        let (Some(pid), Some(start)) = (pid, start) else {
            continue;
        };
        if start_time(pid) != Some(start) {
            // Best effort: a tree still holding a process stays until that one is gone.
            let _ = remove_tree(&entry.path());
        }
    }
}

/// Start time of process `pid` (field 22 of its stat), which tells a live process from a
/// later one that got the same PID.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    after_comm.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape("/sys/fs/cgroup/cpu"), "/sys/fs/cgroup/cpu");
    }

    #[test]
    fn own_start_time_is_readable() {
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(u32::MAX), None);
    }
}
