//! `attach` and `detach`: wiring a namespace podnet did not make to a network, and undoing it.

use super::find;
use crate::engine::setup::{self, EndpointSpec, Netns};
use crate::engine::{detach, proc, Ctx};
use crate::model::field::NETWORK;
use crate::model::{Endpoint, Error, Labels, Mode, PortRequest, Result};
use crate::store::Reads;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A namespace podnet did not make, to wire to a bridge network (`podnet attach`, a CNI ADD).
pub struct AttachRequest {
    pub netns: PathBuf,
    pub name: String,
    /// A bridge network (anything else is refused).
    pub network: Mode,
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address (`--ip6`) on a dual-stack network.
    pub ip6: Option<std::net::Ipv6Addr>,
    /// Ports to publish, one per container port.
    pub ports: Vec<PortRequest>,
    pub labels: Labels,
}

/// `podnet attach`: wire an existing namespace to a network.
pub fn attach(ctx: &mut Ctx, req: &AttachRequest) -> Result<Endpoint> {
    let other = match &req.network {
        Mode::Bridge(_) => None,
        Mode::Host => Some("host".to_string()),
        Mode::None => Some("none".to_string()),
        Mode::Container(o) => Some(format!("container:{o}")),
    };
    if let Some(network) = other {
        return Err(Error::input(format!("{NETWORK} {network}: attach wires a namespace to a bridge network; give a network name")));
    }
    let spec = EndpointSpec {
        name: &req.name,
        mode: req.network.clone(),
        netns: Netns::Existing(req.netns.clone()),
        ip: req.ip,
        ip6: req.ip6,
        ports: &req.ports,
        labels: &req.labels,
        owned_by_caller: false,
        ifname: None,
        mac: None,
        runtime: None,
        member_of: None,
        aliases: &[],
        delegated: false,
    };
    let ep = setup::attach(ctx, &spec)?;
    if !setup::mark_ready(ctx, &ep, false)? {
        return Err(setup::taken_over(&req.name));
    }
    find(ctx, &req.name)
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
    let judge = &mut |_: &dyn Reads, ep: &Endpoint| -> Result<bool> {
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
