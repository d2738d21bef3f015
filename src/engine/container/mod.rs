//! Containers: a process in a network namespace podnet set up (`run`), and the commands that
//! act on one: `exec` (with `run` in `run.rs`), `stop`, `rm`, `attach`/`detach` of a
//! namespace podnet did not make, `label`.

mod attach;
pub mod etc;
mod labels;
mod networks;
mod remove;
mod run;
mod stop;

pub use attach::{attach, detach, AttachRequest};
pub use labels::relabel;
pub use networks::{check_aliases, connect, disconnect, network_name, ConnectRequest};
pub(crate) use networks::{member_check, remove_members};
pub use remove::rm;
pub use run::{exec, run};
pub use stop::stop;

use super::{proc, Ctx};
use crate::kernel::netns;
use crate::model::{Endpoint, Error, Labels, LogConfig, Mode, PortRequest, Result};
use std::net::Ipv4Addr;

/// A container to run, parsed.
pub struct RunSpec {
    /// None: a generated name.
    pub name: Option<String>,
    pub network: Mode,
    /// Bridge networks after the first (`--network` again): `eth1`, ... in that order.
    pub more_networks: Vec<String>,
    /// Names of the container on each network it starts on (`--network-alias`).
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address (`--ip6`) on a dual-stack network.
    pub ip6: Option<std::net::Ipv6Addr>,
    pub detach: bool,
    pub ports: Vec<PortRequest>,
    pub labels: Labels,
    pub argv: Vec<String>,
    /// How much of a detached container's output is kept.
    pub log: LogConfig,
    /// `--hostname`, `--dns`, `--dns-search`, `--add-host`.
    pub etc: crate::model::etc::EtcSpec,
}

/// What `run` produced: the container, and for a foreground run the command's exit code.
pub struct RunOutcome {
    pub endpoint: Endpoint,
    pub exit_code: Option<i32>,
}

/// Look a container up, with the error users expect for a name that is not there.
pub fn find(ctx: &Ctx, name: &str) -> Result<Endpoint> {
    // `CONTAINER:NETWORK` names a container's later network, not a container.
    let found = match name.contains(':') {
        true => None,
        false => ctx.store.endpoint(name)?,
    };
    found.ok_or_else(|| {
        Error::not_found(
            "container",
            name,
            format!("no container named '{name}': see `podnet ps`"),
        )
    })
}

/// Whether a container can be joined or entered: its process runs, or (attached namespace, no
/// process) its namespace still exists.
pub fn is_running(ep: &Endpoint) -> bool {
    match ep.pid {
        Some(pid) => proc::alive(pid),
        None => ep
            .netns
            .as_deref()
            .is_some_and(|p| netns::open(p.as_ref()).is_ok()),
    }
}
