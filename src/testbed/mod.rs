//! Hermetic sandboxes for tests, benchmarks and `podnet demo` (DESIGN.md §4).
//!
//! A [`Sandbox`] is a *holder* process living in fresh network, mount and PID
//! namespaces, made with util-linux `unshare`:
//!
//! ```text
//! unshare --net --mount --pid --fork --mount-proc --propagation private --kill-child -- sh -c SETUP
//! ```
//!
//! `SETUP` mounts a tmpfs on `/run` (so `/run/netns`, `/run/podnet` and the podnet state
//! directory are private to the sandbox and vanish with it), remounts `/sys` so sysfs shows
//! the sandbox's network namespace, brings `lo` up, reports readiness on a pipe and then
//! `exec`s the holder: a tiny init that reaps orphans (as systemd would on a real host), or
//! `sleep infinity` when no Python is installed.
//!
//! Everything a test does runs *inside* the sandbox through `nsenter -t HOLDER -n -m -p`
//! ([`Sandbox::cmd`]). When the sandbox is dropped the holder is killed, which kills every
//! process in its PID namespace (detached containers, test servers) and with them the last
//! references to its network namespace: every bridge, veth, named namespace and nftables
//! table made in it disappears. The `unshare` process gets `PR_SET_PDEATHSIG(SIGKILL)`, so
//! even a test process killed with SIGKILL leaves nothing behind (`--kill-child` then kills
//! the holder). Note: the death signal fires when the *thread* that created the sandbox
//! exits, so create a sandbox on the thread that will own it for its whole life.
//!
//! A [`Lab`] is two sandboxes, `host` and `outside`, joined by a veth pair: a host with a
//! LAN neighbour, for published ports, masquerade and multi-node tests.
//!
//! Two more members of the family, for what a holder plus `nsenter` does not fit:
//! [`reexec`] runs this very binary again as PID 1 of a fresh sandbox (benchmarks, which
//! must spawn podnet directly, without an `nsenter` in front), and [`thread_netns`] runs a
//! closure on a thread in a network namespace of its own (kernel tests without processes).
//!
//! A [`Cluster`] is N cluster nodes (network namespaces with their own podnet state) on an
//! underlay switch inside one sandbox, with a 3-member etcd and an `outside` machine.
//!
//! The sandboxes need the `unshare`, `nsenter` and `ip` programs
//! (Debian: util-linux, iproute2). [`nettool_path`] finds the small Python traffic tool that
//! tests use (`tests/helpers/nettool.py`).

mod cgroup;
pub mod clients;
pub mod cluster;
pub mod cluster_setup;
mod etcd;
mod lab;
pub mod reexec;
mod sandbox;
mod serve;
mod sim_nodes;
pub mod thread_netns;

pub use cluster::Cluster;
pub use etcd::Etcd;
pub use lab::{Lab, LabConfig};
pub use sandbox::{Sandbox, SandboxConfig};
pub use sim_nodes::SimNodes;

use std::path::PathBuf;
use std::process::Output;

/// Path of podnet's state directory *inside* every sandbox (on the sandbox's private
/// `/run` tmpfs, so it dies with the sandbox). Passed to podnet as `PODNET_ROOT`.
pub const SANDBOX_STATE_DIR: &str = "/run/podnet-state";

/// Scratch directory inside every sandbox for test files (ready files, logs).
pub const SANDBOX_SCRATCH_DIR: &str = "/run/testbed";

/// The traffic tool `tests/helpers/nettool.py` from this source tree.
///
/// `serve tcp|udp PORT [--bind ADDR] [--reply TEXT] [--ready-file PATH]`,
/// `connect tcp|udp HOST PORT [--count N] [--timeout S] [--retry-for S]`,
/// `reach HOST... [--port P] [--timeout S]`. Run it with [`python`].
pub fn nettool_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/nettool.py")
}

/// The Python interpreter to run [`nettool_path`] with: Debian's `/usr/bin/python3` when
/// present (starts fastest), else `python3` from `PATH`.
pub fn python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.exists() {
        system
    } else {
        PathBuf::from("python3")
    }
}

/// Lossy stdout of an [`Output`].
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lossy stderr of an [`Output`].
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A one-paragraph description of an [`Output`] for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// Errors from the test bed: which step failed and why.
#[derive(Debug)]
pub struct Error {
    /// What the test bed was doing.
    pub step: String,
    /// The underlying I/O error or the failing command's output.
    pub detail: String,
}

impl Error {
    pub(crate) fn new(step: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error {
            step: step.into(),
            detail: detail.to_string(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "testbed: {}: {}", self.step, self.detail)
    }
}

impl std::error::Error for Error {}

/// Result type of the test bed.
pub type Result<T> = std::result::Result<T, Error>;
