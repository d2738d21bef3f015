//! Runtime attachments: a container runtime (CNI: containerd, CRI-O, Podman 4, libcni;
//! netavark: Podman 5) asks podnet to wire a namespace *it* made to a podnet network, and
//! later to undo it. This is the engine side every such front end calls; the protocols live in
//! `cni/` and `netavark/`.
//!
//! An attachment is an ordinary endpoint (same IPAM, leases, veth, nftables maps,
//! anti-spoofing elements, published ports, services, `gc` and boot recovery as `podnet
//! attach`) plus a record of the runtime's own key for it, (network, container id, interface
//! name), unique per network (`store/runtime.rs`). The endpoint's name is derived from that key
//! ([`endpoint_name`]), so the key alone finds it and two concurrent ADDs of one key meet on
//! the name inside the allocation transaction.
//!
//! - [`open`]: the context, with boot recovery run first (as every CLI command that changes
//!   state does).
//! - [`ensure_network`]: the runtime's network as a podnet network (created on first use,
//!   else it must match).
//! - [`attach`]: wire an existing namespace; the same key and namespace again answers the
//!   attachment that exists.
//! - [`detach`]: idempotent; absent key, absent network and a gone namespace are fine.
//! - [`check`]: is it still as attach made it?
//! - [`list`], [`find`]: what exists.
//! - [`gc`]: remove a network's attachments the runtime no longer lists, collecting every
//!   error and carrying on.
//! - [`status`]: can podnet serve an attach now?

mod attach;
mod check;
pub mod ipam_owner;
mod network;
mod remove;

pub use super::network::NetworkRequest;
pub use attach::attach;
pub use check::check;
pub use network::{ensure_network, status};
pub use remove::{detach, gc, GcOutcome};

use super::Ctx;
use crate::model::{Endpoint, Labels, Mac, Network, PortMapping, Result};
use crate::store::{RuntimeRecord, RuntimeRow};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The Kubernetes pod an attachment belongs to, as the runtime named it (CNI_ARGS
/// `K8S_POD_NAMESPACE`/`K8S_POD_NAME`; Podman 4 sends only the name, its container's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pod {
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// The runtime's key for an attachment: unique per network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub container_id: String,
    pub ifname: String,
}

/// Attach an existing namespace (`netns`) to `network` (which must exist: see
/// [`ensure_network`]).
#[derive(Debug, Clone)]
pub struct AttachRequest {
    pub network: String,
    pub netns: PathBuf,
    pub key: Key,
    /// Who asks: `cni`, `netavark` (shown by `ps`/`inspect`).
    pub runtime: String,
    pub pod: Pod,
    /// The address to take (it must be free and in the subnet); None: the next free one.
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address to take on a dual-stack network (free, in its IPv6 subnet); None:
    /// the next free one.
    pub ip6: Option<Ipv6Addr>,
    /// `ip`/`ip6` were given by the runtime's own IPAM plugin (CNI delegated `ipam`), which
    /// then owns the network's addresses (see [`ipam_owner`]).
    pub delegated: bool,
    /// The interface's MAC; None: podnet's, derived from the address.
    pub mac: Option<Mac>,
    /// Ports to publish, exactly these (runtimes choose host ports themselves).
    pub ports: Vec<PortMapping>,
    pub labels: Labels,
    /// The names the runtime gives the container on this network (its container or pod name,
    /// its aliases): DNS names of the attachment, like `run --name/--network-alias`. A name
    /// that is no DNS name (runtimes allow more) is left out, never an error.
    pub names: Vec<String>,
}

/// An attachment as it is recorded.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub endpoint: Endpoint,
    pub network: Network,
    pub key: Key,
    pub runtime: String,
    pub pod: Pod,
    pub ports: Vec<PortMapping>,
}

/// Open podnet's state for a runtime call (creating it on first use), through the one entry
/// point every front end uses (`engine::open`: privilege, store, and boot recovery if this is
/// the first call since boot).
pub fn open(root: &Path, run_dir: &Path) -> Result<Ctx> {
    super::open(root, run_dir, super::Access::Create).map(|(ctx, _)| ctx)
}

/// The endpoint name of an attachment: up to 8 characters of the container id (for people
/// reading `podnet ps`), a dash and 6 hex digits of a hash of the whole key with the network
/// (so two keys sharing the id's beginning, or one container on two networks, differ). At
/// most 15 characters, like every container name.
pub fn endpoint_name(network: &str, key: &Key) -> String {
    let head: String = key
        .container_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .skip_while(|c| *c == '.' || *c == '-')
        .take(8)
        .collect();
    // FNV-1a: stable across builds and processes (the name must be the same in ADD and DEL).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [network, &key.container_id, &key.ifname] {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let head = if head.is_empty() { "rt".into() } else { head };
    format!("{head}-{:06x}", h & 0xff_ffff)
}

/// The network of that name, if it exists (a front end that learns the subnet from elsewhere,
/// e.g. a delegated IPAM plugin, asks before choosing one).
pub fn network(ctx: &Ctx, name: &str) -> Result<Option<Network>> {
    ctx.store.network(name)
}

/// The attachment of `key` on `network`, if any (None also when the network does not exist).
pub fn find(ctx: &Ctx, network: &str, key: &Key) -> Result<Option<Attachment>> {
    let Some(net) = ctx.store.network(network)? else {
        return Ok(None);
    };
    match ctx
        .store
        .runtime_attachment(net.id, &key.container_id, &key.ifname)?
    {
        Some(row) => assemble(ctx, row, Some(net)),
        None => Ok(None),
    }
}

/// Every runtime attachment, of one network or of all, oldest first.
pub fn list(ctx: &Ctx, network: Option<&str>) -> Result<Vec<Attachment>> {
    let net_id = match network {
        Some(n) => match ctx.store.network(n)? {
            Some(net) => Some(net.id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut out = Vec::new();
    for row in ctx.store.runtime_attachments(net_id)? {
        if let Some(a) = assemble(ctx, row, None)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// The runtime's record of an endpoint, for views (`ps`, `inspect`).
pub fn record_of(ctx: &Ctx, endpoint_id: i64) -> Result<Option<RuntimeRecord>> {
    Ok(ctx.store.runtime_of(endpoint_id)?.map(|r| r.record))
}

fn assemble(ctx: &Ctx, row: RuntimeRow, net: Option<Network>) -> Result<Option<Attachment>> {
    let Some(endpoint) = ctx.store.endpoint(&row.endpoint)? else {
        return Ok(None);
    };
    let network = match net {
        Some(n) => n,
        None => match ctx
            .store
            .networks()?
            .into_iter()
            .find(|n| n.id == row.network_id)
        {
            Some(n) => n,
            None => return Ok(None),
        },
    };
    let ports = ctx.store.ports_of(endpoint.id)?;
    let r = row.record;
    Ok(Some(Attachment {
        endpoint,
        network,
        key: Key {
            container_id: r.container_id,
            ifname: r.ifname,
        },
        runtime: r.runtime,
        pod: Pod {
            namespace: r.k8s_namespace,
            name: r.k8s_name,
        },
        ports,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str, i: &str) -> Key {
        Key {
            container_id: c.into(),
            ifname: i.into(),
        }
    }

    #[test]
    fn endpoint_names_are_valid_stable_and_tell_keys_apart() {
        let long = "3fa2b9c01d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff001122";
        let cases = [
            (long, "eth0"),
            (long, "net1"),
            ("-.weird/id:x", "eth0"),
            ("..", "eth0"),
            ("a", "eth0"),
        ];
        let mut seen = std::collections::HashSet::new();
        for (c, i) in cases {
            let n = endpoint_name("pods", &key(c, i));
            crate::model::validate_name("container", &n).unwrap();
            assert_eq!(n, endpoint_name("pods", &key(c, i)));
            assert!(seen.insert(n.clone()), "{n} twice");
        }
        assert_ne!(
            endpoint_name("pods", &key(long, "eth0")),
            endpoint_name("other", &key(long, "eth0"))
        );
        assert!(endpoint_name("pods", &key(long, "eth0")).starts_with("3fa2b9c0-"));
    }
}
