//! Running *this very binary* again as PID 1 of a fresh sandbox: how benchmarks sandbox
//! themselves.
//!
//! A [`Sandbox`](super::Sandbox) enters its namespaces through `nsenter` for every command,
//! one more fork+exec in front of each: right for tests, wrong for benchmarks that time whole
//! processes. So a benchmark runs *itself* inside instead: [`run`] re-executes the current
//! executable with the same arguments under
//!
//! ```text
//! unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private
//! ```
//!
//! and the copy inside, seeing [`phase`] set, calls [`enter`] first: it refuses to go on
//! unless it is PID 1 in a network namespace other than the one [`run`] was called from and
//! that namespace holds nothing but `lo`, then mounts a tmpfs on `/run` and sysfs on `/sys`
//! (so both show the sandbox, not the machine), brings `lo` up and points podnet at a state
//! directory of its own. Everything it then starts (podnet, containers, servers) is its
//! descendant, spawned directly; when it exits, the PID namespace dies and with it every
//! process, link, namespace and nftables table made inside.
//!
//! The phase hands back its results as lines of a records file that [`run`] returns. The
//! podnet state directory stays on the machine's disk (beside the records, removed after the
//! phase) rather than on `/run`'s tmpfs, so that store writes cost what they cost for users.

use super::{Error, Result};
use crate::kernel::{link, Rtnl};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// Name of the phase the re-executed copy runs (set only in the copy).
const PHASE: &str = "PODNET_REEXEC_PHASE";
/// Inode of the caller's network namespace, which the copy must not be in.
const HOST_NETNS: &str = "PODNET_REEXEC_HOST_NETNS";
/// File the copy writes its records to, one per line.
const RECORDS: &str = "PODNET_REEXEC_RECORDS";
/// podnet state directory of the copy.
const STATE: &str = "PODNET_REEXEC_STATE";

/// What a sandboxed phase left: its exit status and the lines of its records file (those
/// written before it failed, if it did).
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub records: Vec<String>,
}

/// Runs this executable again with `args`, as PID 1 of a fresh net+mount+PID sandbox, for
/// `phase` (what [`phase`] returns in the copy). Its records file and state directory are
/// made in `dir` and removed afterwards. Blocks until the copy exits.
pub fn run(phase: &str, args: &[String], dir: &Path) -> Result<Outcome> {
    let pid = std::process::id();
    let records = dir.join(format!("reexec-{phase}-{pid}.jsonl"));
    let state = dir.join(format!("reexec-state-{phase}-{pid}"));
    let _ = std::fs::remove_file(&records);
    let exe = std::env::current_exe().map_err(|e| Error::new("find this executable", e))?;
    let status = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
        ])
        .arg(&exe)
        .args(args)
        .env(PHASE, phase)
        .env(HOST_NETNS, netns_inode()?.to_string())
        .env(RECORDS, &records)
        .env(STATE, &state)
        .status()
        .map_err(|e| Error::new("run unshare (util-linux)", e))?;
    let _ = std::fs::remove_dir_all(&state);
    let text = std::fs::read_to_string(&records).unwrap_or_default();
    let _ = std::fs::remove_file(&records);
    Ok(Outcome {
        status,
        records: text.lines().map(str::to_string).collect(),
    })
}

/// The phase this process was re-executed for by [`run`]; `None` in the caller itself.
pub fn phase() -> Option<String> {
    std::env::var(PHASE).ok()
}

/// Where a phase inside the sandbox writes (see [`enter`]).
#[derive(Debug, Clone)]
pub struct Inside {
    /// The phase name given to [`run`].
    pub phase: String,
    /// The records file: one line per record, handed back by [`run`].
    pub records: PathBuf,
    /// podnet's state directory (already `PODNET_ROOT`).
    pub state: PathBuf,
}

impl Inside {
    /// The caller's directory (of the records file), for files that outlive the phase.
    pub fn dir(&self) -> &Path {
        self.records.parent().unwrap_or(Path::new("/"))
    }
}

/// Checks and finishes the sandbox, in the copy [`run`] started; call it first, before any
/// thread exists (it sets `PODNET_ROOT` and `PODNET_RUN_DIR`). An error means the process is
/// not in a fresh sandbox and must not touch the network.
pub fn enter() -> Result<Inside> {
    let phase = phase().ok_or_else(|| Error::new("reexec", format!("{PHASE} is not set")))?;
    let var = |k: &str| std::env::var(k).map_err(|_| Error::new("reexec", format!("{k} unset")));
    let host: u64 = var(HOST_NETNS)?
        .parse()
        .map_err(|e| Error::new("reexec", format!("{HOST_NETNS}: {e}")))?;
    if netns_inode()? == host {
        return Err(Error::new(
            "reexec",
            "still in the machine's network namespace: refusing",
        ));
    }
    if std::process::id() != 1 {
        return Err(Error::new(
            "reexec",
            "expected to be PID 1 of a new PID namespace: refusing",
        ));
    }
    use nix::mount::{mount, MsFlags};
    mount(
        Some("podnet-bench-run"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=755"),
    )
    .map_err(|e| Error::new("tmpfs over /run", e))?;
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| Error::new("remount sysfs for the new netns", e))?;
    std::fs::create_dir_all("/run/netns").map_err(|e| Error::new("mkdir /run/netns", e))?;
    let mut rtnl = Rtnl::open().map_err(|e| Error::new("rtnetlink", e))?;
    let links = link::list(&mut rtnl).map_err(|e| Error::new("list links", e))?;
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    if names != ["lo"] {
        return Err(Error::new(
            "reexec",
            format!("unexpected interfaces {names:?} in a fresh sandbox: refusing"),
        ));
    }
    link::set_up_by_name(&mut rtnl, "lo").map_err(|e| Error::new("lo up", e))?;
    let state = PathBuf::from(var(STATE)?);
    std::fs::create_dir_all(&state).map_err(|e| Error::new("create state dir", e))?;
    std::env::set_var("PODNET_ROOT", &state);
    std::env::set_var("PODNET_RUN_DIR", "/run/podnet");
    Ok(Inside {
        phase,
        records: PathBuf::from(var(RECORDS)?),
        state,
    })
}

/// Inode of this process's network namespace: which namespace it is in.
pub fn netns_inode() -> Result<u64> {
    std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .map_err(|e| Error::new("stat /proc/self/ns/net", e))
}
