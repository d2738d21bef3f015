//! Who gives a network's addresses: podnet's IPAM, or a runtime's IPAM plugin (a CNI
//! configuration that delegates `ipam` to host-local, static, ...). One network never mixes
//! the two: the plugin keeps its own leases and knows nothing of podnet's, so an address
//! podnet chose could be handed out again by the plugin (and the reverse). The first
//! delegated attachment marks the network `delegated`, in its allocation transaction; from
//! then on podnet allocates nothing there, and a delegated attachment is refused on a network
//! whose containers have podnet's addresses.

use crate::model::field::NETWORK;
use crate::model::{Error, Network, Result};
use crate::store::Writes;

/// Admit an attachment to `net` (as it is inside the allocation transaction `tx`) whose
/// addresses a runtime's IPAM plugin gave (`delegated`) or podnet allocates; the first
/// delegated one marks the network. `runtime`: a runtime asks (its configuration's `ipam`
/// is the field to change), else the CLI (its network).
pub fn admit(tx: &dyn Writes, net: &Network, delegated: bool, runtime: bool) -> Result<()> {
    match (net.delegated, delegated) {
        (true, true) | (false, false) => Ok(()),
        (true, false) => Err(refuse_podnet(net, runtime)),
        (false, true) => {
            let users = tx.network_users(net.id)?;
            if let Some(first) = users.first() {
                return Err(refuse_delegated(net, users.len(), first));
            }
            tx.set_network_delegated(net.id)
        }
    }
}

/// A delegated attachment's early refusal, before its IPAM plugin runs (the allocation
/// transaction judges again).
pub fn precheck_delegated(ctx: &crate::engine::Ctx, net: &Network) -> Result<()> {
    if net.delegated {
        return Ok(());
    }
    let users = ctx.store.network_users(net.id)?;
    match users.first() {
        Some(first) => Err(refuse_delegated(net, users.len(), first)),
        None => Ok(()),
    }
}

fn refuse_podnet(net: &Network, runtime: bool) -> Error {
    let what = format!(
        "network '{}' takes its addresses from a CNI IPAM plugin (its first CNI ADD delegated ipam), so podnet allocates none there",
        net.name
    );
    if runtime {
        Error::field(
            "ipam",
            format!("{what}: delegate ipam to the same plugin in this configuration, or give it another network name"),
        )
    } else {
        Error::field(
            NETWORK,
            format!("{what}: attach through a CNI configuration that delegates ipam, or use another {NETWORK}"),
        )
    }
}

fn refuse_delegated(net: &Network, users: usize, first: &str) -> Error {
    Error::field(
        "ipam",
        format!(
            "network '{}' has {users} container(s) with addresses podnet allocated (first: {first}), and an IPAM plugin cannot share it: drop the delegated ipam (podnet allocates), or give this configuration another network name",
            net.name
        ),
    )
}
