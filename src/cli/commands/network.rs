//! `network create | ls | inspect | rm | prune`.

use crate::cli::args::{CreateArgs, NetworkCmd};
use crate::cli::exit;
use crate::cli::output::{opt, print};
use crate::cli::view;
use crate::cli::Format;
use crate::engine::network::{self, NetworkRequest};
use crate::engine::Ctx;
use crate::model::{parse_cidr, parse_ipv4, Error, Result};

const NET_HEADERS: [&str; 6] = ["NAME", "BRIDGE", "SUBNET", "GATEWAY", "MTU", "CONTAINERS"];

/// The table cells every network view starts with.
fn network_cells(n: &view::NetworkFacts) -> Vec<String> {
    vec![
        n.name.clone(),
        n.bridge.clone(),
        n.subnet.clone(),
        n.gateway.clone(),
        n.mtu.to_string(),
    ]
}

pub(super) fn run(ctx: &mut Ctx, f: Format, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create(CreateArgs {
            name,
            subnet,
            gateway,
            mtu,
            bridge,
            internal,
            icc,
        }) => {
            let n = network::create(
                ctx,
                &NetworkRequest {
                    name,
                    subnet: subnet
                        .as_deref()
                        .map(|s| parse_cidr("--subnet", s))
                        .transpose()?,
                    gateway: gateway
                        .as_deref()
                        .map(|g| parse_ipv4("--gateway", g))
                        .transpose()?,
                    mtu,
                    bridge,
                    internal,
                    icc,
                },
            )?;
            let d = view::network_detail(ctx, n)?;
            print(f, &d, &NET_HEADERS[..5], |d| vec![network_cells(&d.facts)])?;
        }
        NetworkCmd::Ls => {
            let rows = view::networks(ctx)?;
            print(f, &rows, &NET_HEADERS, |rows| {
                rows.iter()
                    .map(|r| {
                        let mut cells = network_cells(&r.facts);
                        cells.push(r.containers.to_string());
                        cells
                    })
                    .collect()
            })?;
        }
        NetworkCmd::Inspect { name } => {
            let n = ctx.store.network(&name)?.ok_or_else(|| {
                Error::input(format!(
                    "network '{name}' does not exist: see `podnet network ls`"
                ))
            })?;
            let d = view::network_detail(ctx, n)?;
            print(f, &d, &NET_HEADERS, |d| {
                let members: Vec<String> = d
                    .containers
                    .iter()
                    .map(|m| format!("{}={}", m.name, opt(&m.ip)))
                    .collect();
                let mut cells = network_cells(&d.facts);
                cells.push(members.join(","));
                vec![cells]
            })?;
        }
        NetworkCmd::Rm { names } => {
            return Ok(exit::each(&names, |n| network::remove(ctx, n)));
        }
        NetworkCmd::Prune => {
            for n in network::prune(ctx)? {
                outln!("{n}");
            }
        }
    }
    Ok(0)
}
