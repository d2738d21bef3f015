//! Undo runtime attachments: one by key (DEL, teardown), or every one of a network the
//! runtime no longer lists (GC). The teardown is `podnet detach`'s: ports, anti-spoofing
//! elements, services, veth, lease and record; the namespace is the runtime's and stays.

use super::{list, Key};
use crate::engine::{detach as teardown, proc, Ctx};
use crate::model::{EndpointState, Error, Result};
use std::collections::HashSet;

/// Remove the attachment of `key` on `network`. Idempotent: no such network or attachment
/// (never attached, removed already) is success, and so is a namespace that is gone (the
/// host end of the veth is removed by name). Returns the endpoint's name when this call
/// removed it. Refused only while another live podnet process is attaching or removing it.
pub fn detach(ctx: &mut Ctx, network: &str, key: &Key) -> Result<Option<String>> {
    let Some(net) = ctx.store.network(network)? else {
        return Ok(None);
    };
    let Some(row) = ctx
        .store
        .runtime_attachment(net.id, &key.container_id, &key.ifname)?
    else {
        return Ok(None);
    };
    remove(ctx, row.endpoint_id, &row.endpoint)
}

fn remove(ctx: &mut Ctx, id: i64, name: &str) -> Result<Option<String>> {
    let me = proc::me();
    let judge = &mut |_: &dyn crate::store::Reads, ep: &crate::model::Endpoint| -> Result<bool> {
        if ep.owner.is_some_and(|o| o != me && proc::alive(o)) {
            let doing = if ep.state == EndpointState::Removing {
                "removed"
            } else {
                "attached"
            };
            return Err(Error::conflict(format!(
                "'{name}' is being {doing} by another podnet process (pid {}): try again when it is done",
                ep.owner.map(|o| o.0).unwrap_or_default()
            )));
        }
        Ok(true)
    };
    Ok(teardown::teardown_if(ctx, id, true, judge)?.map(|ep| ep.name))
}

/// What [`gc`] did: the attachments it removed (endpoint names) and every error it met.
#[derive(Debug, Default)]
pub struct GcOutcome {
    pub removed: Vec<String>,
    pub errors: Vec<Error>,
}

/// Remove every runtime attachment of `network` whose key is not in `valid`. Never touches
/// other networks or endpoints no runtime made (`podnet run`, `podnet attach`); an
/// attachment another live call is making or removing is left to it. An error with one
/// attachment is collected and the others are still done.
pub fn gc(ctx: &mut Ctx, network: &str, valid: &[Key]) -> Result<GcOutcome> {
    let valid: HashSet<&Key> = valid.iter().collect();
    let mut out = GcOutcome::default();
    for a in list(ctx, Some(network))? {
        if valid.contains(&a.key) {
            continue;
        }
        let ep = &a.endpoint;
        if ep.owner.is_some_and(|o| o != proc::me() && proc::alive(o)) {
            continue;
        }
        match remove(ctx, ep.id, &ep.name) {
            Ok(Some(name)) => out.removed.push(name),
            Ok(None) => {}
            Err(e) => out.errors.push(e.context(format!(
                "container {} {} ({})",
                a.key.container_id, a.key.ifname, ep.name
            ))),
        }
    }
    Ok(out)
}
