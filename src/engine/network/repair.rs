//! gc's part for networks: bridges the kernel lost (deleted from outside, or gone with a
//! reboot) are made again from their records; networks whose creator or remover died are
//! finished or removed, each decided inside the transaction that takes the record over.

use crate::engine::gc::Action;
use crate::engine::{network, proc, Ctx};
use crate::kernel::{addr, link};
use crate::model::{Network, NetworkState, Result};

/// Make every ready network's bridge whole: present, up, holding its gateway address (its
/// sysctls are set again too). Reports each network that needed anything.
pub fn bridges(ctx: &mut Ctx, report: &mut Vec<Action>) -> Result<()> {
    let addrs = addr::list(ctx.host()?)?;
    let dual = ctx.store.networks()?.iter().any(|n| n.subnet6.is_some());
    let addrs6 = if dual {
        addr::list6(ctx.host()?)?
    } else {
        Vec::new()
    };
    for net in ctx.store.networks()? {
        if net.state != NetworkState::Ready {
            continue;
        }
        if !net.is_bridge() {
            shim(ctx, &net, report);
            continue;
        }
        let mut why = Vec::new();
        match link::get(ctx.host()?, &net.bridge)? {
            None => why.push(format!("bridge {} was gone: re-created", net.bridge)),
            Some(b) => {
                if !b.up {
                    why.push(format!("bridge {} was down: brought up", net.bridge));
                }
                let has_gw = addrs.iter().any(|&(i, ip, p)| {
                    i == b.index && ip == net.gateway && p == net.subnet.prefix_len()
                });
                if !has_gw {
                    why.push(format!(
                        "gateway address {}/{} was gone: re-added",
                        net.gateway,
                        net.subnet.prefix_len()
                    ));
                }
                if let (Some(s6), Some(g6)) = (net.subnet6, net.gateway6) {
                    let has_gw6 = addrs6
                        .iter()
                        .any(|&(i, ip, p)| i == b.index && ip == g6 && p == s6.prefix_len());
                    if !has_gw6 {
                        why.push(format!(
                            "IPv6 gateway address {g6}/{} was gone: re-added",
                            s6.prefix_len()
                        ));
                    }
                }
            }
        }
        network::make_bridge(ctx, &net)?;
        if !why.is_empty() {
            report.push(Action::repaired(&net.name, why.join("; ")));
        }
    }
    Ok(())
}

/// A macvlan network with host access: its shim made whole (present, up, routed). A parent
/// gone is reported, not fatal: the network's containers on other parents are unaffected.
fn shim(ctx: &mut Ctx, net: &Network, report: &mut Vec<Action>) {
    let Some(m) = net.macvlan.as_ref().filter(|m| m.host_access) else {
        return;
    };
    let mut created = false;
    match network::macvlan::realize(ctx, net, &mut created) {
        Ok(()) if created => report.push(Action::repaired(
            &net.name,
            format!(
                "host shim {} was gone: re-created with its route to {}",
                net.bridge, m.range
            ),
        )),
        Ok(()) => {}
        Err(e) => report.push(Action::new(
            &net.name,
            "unrepaired",
            format!("its host shim could not be made: {e}"),
        )),
    }
}

/// What gc decided for a network left half-done.
enum Decision {
    /// Its creator died and containers use it: make it whole and ready.
    Finish(Network, (i32, u64)),
    /// Its creator or remover died and no container uses it: remove it.
    Remove(Network, (i32, u64)),
}

/// Finish or remove every network whose creator (or remover) died.
pub fn abandoned(ctx: &mut Ctx, report: &mut Vec<Action>) -> Result<()> {
    let me = proc::me();
    for listed in ctx.store.networks()? {
        if listed.state == NetworkState::Ready {
            continue;
        }
        let decision = ctx.store.write(|tx| {
            let Some(net) = tx.network(&listed.name)?.filter(|n| n.id == listed.id) else {
                return Ok(None);
            };
            let Some(owner) = tx.network_owner(net.id)? else {
                return Ok(None);
            };
            if net.state == NetworkState::Ready || proc::alive(owner) {
                return Ok(None);
            }
            if tx.claim_network(net.id, net.state, Some(owner), me)? {
                return Ok(Some(Decision::Remove(net, owner)));
            }
            // In use (or changed meanwhile): a creating network with containers is finished.
            if net.state == NetworkState::Creating && tx.adopt_network(net.id, owner, me)? {
                return Ok(Some(Decision::Finish(net, owner)));
            }
            Ok(None)
        })?;
        match decision {
            Some(Decision::Remove(net, owner)) => {
                let why = match net.state {
                    NetworkState::Removing => {
                        format!("its removal was interrupted (pid {} died)", owner.0)
                    }
                    _ => format!("its creator (pid {}) died before it was ready", owner.0),
                };
                network::finish_removal(ctx, &net)?;
                report.push(Action::new(&net.name, "removed", why));
            }
            Some(Decision::Finish(net, owner)) => {
                network::realize(ctx, &net)?;
                ctx.store.write(|tx| tx.set_network_ready(&net.name))?;
                report.push(Action::new(
                    &net.name,
                    "finished",
                    format!(
                        "its creator (pid {}) died before it was ready; containers use it",
                        owner.0
                    ),
                ));
            }
            None => {}
        }
    }
    Ok(())
}
