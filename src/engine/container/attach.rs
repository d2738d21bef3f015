//! `attach` and `detach`: wiring a namespace podnet did not make to a network, and undoing it.

use super::find;
use crate::engine::setup::{self, EndpointSpec, Netns};
use crate::engine::{detach, proc, Ctx, DEFAULT_NETWORK};
use crate::model::field::NETWORK;
use crate::model::{Endpoint, Error, Labels, Mode, PortRequest, Result};
use std::path::PathBuf;

/// `podnet attach`: wire an existing namespace to a network.
pub fn attach(
    ctx: &mut Ctx,
    netns_path: &str,
    name: &str,
    network: &str,
    ip: Option<&str>,
    ports: &[PortRequest],
    labels: &Labels,
) -> Result<Endpoint> {
    let mode = Mode::parse(network, DEFAULT_NETWORK)?;
    if !matches!(mode, Mode::Bridge(_)) {
        return Err(Error::input(format!("{NETWORK} {network}: attach wires a namespace to a bridge network; give a network name")));
    }
    let spec = EndpointSpec {
        name,
        mode,
        netns: Netns::Existing(PathBuf::from(netns_path)),
        ip,
        ports,
        labels,
        owned_by_caller: false,
        ifname: None,
        mac: None,
        runtime: None,
    };
    let ep = setup::attach(ctx, &spec)?;
    if !setup::mark_ready(ctx, &ep, false)? {
        return Err(setup::taken_over(name));
    }
    find(ctx, name)
}

/// `podnet detach`: undo `attach`, leaving the namespace itself alone.
pub fn detach(ctx: &mut Ctx, name: &str) -> Result<()> {
    let ep = find(ctx, name)?;
    if ep.netns_owned || ep.pid.is_some() {
        return Err(Error::input(format!(
            "'{name}' was started by `podnet run`: remove it with `podnet rm -f {name}`"
        )));
    }
    let me = proc::me();
    let judge = &mut |_: &rusqlite::Connection, ep: &Endpoint| -> Result<bool> {
        if ep.owner.is_some_and(|o| o != me && proc::alive(o)) {
            return Err(Error::failed(format!(
                "'{name}' is being attached or detached by another podnet process"
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
