//! The per-host agent (`podnet agent`, issue 10): serves container and service names on
//! every DNS-enabled network's gateway, and follows the store.
//!
//! The CLI keeps working alone: every change is recorded in the store first, then the
//! command tells the agent (`client::sync`), which re-reads what it serves from the store
//! (`Reads::dns_names`, one query) and answers once it serves it. One agent per runtime dir
//! (a lock); started on demand by the first command that puts a container on a DNS-enabled
//! network, or by systemd (`contrib/systemd/podnet-agent.service`). Its socket speaks
//! `wire`'s framed request/response protocol. See
//! docs/decisions/2026-12-01-agent.md.

pub mod client;
mod cluster;
mod cni;
mod conns;
mod guard;
mod lock;
mod names;
mod overlay;
mod pids;
mod serve;
mod services;
pub mod wire;

pub use cluster::{config_error, peer_json as cluster_peer_json, PEERS_FILE};
pub use names::{listen_of, to_dns, ZONE};

use crate::model::{Error, Result};
use std::path::Path;

/// `podnet agent [--foreground]`. In the foreground: take the lock (or say who holds it and
/// exit 0) and serve until killed. Otherwise: start a detached one unless one answers, and
/// return once it answers.
pub fn main(root: &Path, run_dir: &Path, foreground: bool) -> Result<i32> {
    if !crate::kernel::caps::has_net_admin() {
        return Err(Error::needs_root(
            "it serves DNS on the networks' gateways: run it as root (e.g. with sudo)",
        ));
    }
    if foreground {
        return serve::run(root, run_dir);
    }
    if let Some(pid) = client::ping(run_dir) {
        eprintln!("agent already running (pid {pid})");
        return Ok(0);
    }
    client::spawn(root, run_dir)?;
    let deadline = std::time::Instant::now() + client::WAIT;
    while std::time::Instant::now() < deadline {
        if let Some(pid) = client::ping(run_dir) {
            eprintln!("agent running (pid {pid})");
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(Error::failed(format!(
        "the agent did not start: see {}",
        client::log_path(root).display()
    )))
}
