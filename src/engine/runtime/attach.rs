//! Attach a runtime's namespace: `podnet attach` with the runtime's key recorded in the same
//! transaction, its interface name and MAC, and exactly the host ports it asks for.

use super::{endpoint_name, find, AttachRequest, Attachment};
use crate::engine::setup::{self, EndpointSpec, Netns};
use crate::engine::{detach, proc, Ctx};
use crate::kernel::netns;
use crate::model::{validate_dns_name, EndpointState, Error, HostPort, Mode, PortRequest, Result};
use crate::store::RuntimeRecord;

/// Wire `req.netns` to `req.network` as `req.key.ifname`. Nothing is left behind on failure.
///
/// The key attached already: in the same namespace, the existing attachment is the answer
/// (a runtime retrying an ADD whose answer it lost gets the same address); in another
/// namespace, or still being made by another live call, a conflict. A record left by a call
/// that died is removed first.
pub fn attach(ctx: &mut Ctx, req: &AttachRequest) -> Result<Attachment> {
    if let Some(a) = existing(ctx, req)? {
        return Ok(a);
    }
    let name = endpoint_name(&req.network, &req.key);
    let ports: Vec<PortRequest> = req
        .ports
        .iter()
        .map(|m| PortRequest {
            host_ip: m.host_ip,
            host: HostPort::Fixed(m.host_port),
            container_port: m.container_port,
            proto: m.proto,
        })
        .collect();
    let record = RuntimeRecord {
        container_id: req.key.container_id.clone(),
        ifname: req.key.ifname.clone(),
        runtime: req.runtime.clone(),
        k8s_namespace: req.pod.namespace.clone(),
        k8s_name: req.pod.name.clone(),
    };
    let spec = EndpointSpec {
        name: &name,
        mode: Mode::Bridge(req.network.clone()),
        netns: Netns::Existing(req.netns.clone()),
        ip: req.ip,
        ip6: req.ip6,
        ports: &ports,
        labels: &req.labels,
        owned_by_caller: false,
        ifname: Some(&req.key.ifname),
        mac: req.mac,
        runtime: Some(&record),
        member_of: None,
        aliases: &dns_names(&req.names),
        delegated: req.delegated,
    };
    let made = setup::attach(ctx, &spec);
    let ep = match made {
        Ok(ep) => ep,
        // A concurrent call of the same key won the name: its attachment is the answer.
        Err(e) => match existing(ctx, req) {
            Ok(Some(a)) => return Ok(a),
            _ => return Err(e),
        },
    };
    if !setup::mark_ready(ctx, &ep, false)? {
        return Err(setup::taken_over(&name));
    }
    find(ctx, &req.network, &req.key)?.ok_or_else(|| setup::taken_over(&name))
}

/// The runtime's names that are DNS names, once each, in order.
fn dns_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if validate_dns_name("name", n).is_ok() && !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// The attachment of `req`'s key, when it exists ready in `req`'s namespace; a conflict when
/// it exists otherwise; None (after removing a dead call's leftovers) when there is none.
fn existing(ctx: &mut Ctx, req: &AttachRequest) -> Result<Option<Attachment>> {
    let Some(a) = find(ctx, &req.network, &req.key)? else {
        return Ok(None);
    };
    let ep = &a.endpoint;
    let busy = ep.owner.is_some_and(|o| o != proc::me() && proc::alive(o));
    if ep.state != EndpointState::Ready && !busy {
        // Left by a call that died (the runtime retries): start over.
        let seen = (ep.state, ep.owner);
        detach::teardown_if(ctx, ep.id, true, &mut |_, e| Ok((e.state, e.owner) == seen))?;
        return Ok(None);
    }
    let same_ns = ep
        .netns
        .as_deref()
        .and_then(|p| netns::identity(p.as_ref()))
        == netns::identity(&req.netns)
        && netns::identity(&req.netns).is_some();
    if ep.state == EndpointState::Ready && same_ns {
        return Ok(Some(a));
    }
    Err(Error::conflict(format!(
        "container {} already has {} on network '{}' ({}, in {}): remove it first (DEL) or use another interface name",
        req.key.container_id,
        req.key.ifname,
        req.network,
        if ep.state == EndpointState::Ready { "attached" } else { "being attached" },
        ep.netns.as_deref().unwrap_or("?")
    )))
}
