//! `rm`: judged on the row inside the transaction that takes it over.

use super::find;
use crate::engine::{detach, proc, Ctx};
use crate::model::{Endpoint, EndpointState, Error, Result};
use crate::store::Reads;

/// Remove a container. A running one needs `force`; one whose namespace others share is refused.
/// Judged on the row as it is inside the transaction that takes it over.
pub fn rm(ctx: &mut Ctx, name: &str, force: bool) -> Result<()> {
    let ep = find(ctx, name)?;
    let me = proc::me();
    let judge = &mut |tx: &dyn Reads, ep: &Endpoint| -> Result<bool> {
        let joiners = tx.joiners(name)?;
        if !joiners.is_empty() {
            return Err(Error::input(format!(
                "container '{name}' shares its network namespace with {}: remove those first",
                joiners.join(", ")
            )));
        }
        let busy = ep.owner.filter(|o| *o != me && proc::alive(*o));
        match (ep.state, busy) {
            (EndpointState::Removing, Some(_)) => {
                return Err(Error::failed(format!(
                    "container '{name}' is already being removed by another podnet process"
                )))
            }
            (EndpointState::Creating, Some(_)) if !force => {
                return Err(Error::input(format!(
                    "container '{name}' is being created: wait, or use `podnet rm -f {name}`"
                )))
            }
            _ => {}
        }
        if ep.pid.is_some_and(proc::alive) && !force {
            return Err(Error::input(format!(
                "container '{name}' is running: stop it first or use `podnet rm -f {name}`"
            )));
        }
        Ok(true)
    };
    match detach::teardown_if(ctx, ep.id, false, judge)? {
        Some(_) => Ok(()),
        None => Err(Error::not_found(
            "container",
            name,
            format!("no container named '{name}': see `podnet ps`"),
        )),
    }
}
