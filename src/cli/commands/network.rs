//! `network create | ls | inspect | rm | prune | connect | disconnect`.

use crate::cli::args::{CreateArgs, NetworkCmd};
use crate::cli::exit;
use crate::cli::output::{opt, print};
use crate::cli::view;
use crate::cli::Format;
use crate::engine::network::{self, NetworkRequest};
use crate::engine::{container, Ctx};
use crate::model::{
    parse_cidr6, parse_ipv4, parse_ipv6, parse_subnet_any, split_subnets, Error, Result,
};

const NET_HEADERS: [&str; 7] = [
    "NAME",
    "BRIDGE",
    "SUBNET",
    "GATEWAY",
    "MTU",
    "DNS",
    "CONTAINERS",
];

/// The table cells every network view starts with.
fn network_cells(n: &view::NetworkFacts) -> Vec<String> {
    vec![
        n.name.clone(),
        match &n.macvlan {
            Some(m) => format!("macvlan:{}", m.parent),
            None => n.bridge.clone(),
        },
        opt(&view::both(&Some(n.subnet.clone()), &n.subnet6)),
        opt(&view::both(&Some(n.gateway.clone()), &n.gateway6)),
        n.mtu.to_string(),
        if n.dns { "on" } else { "off" }.to_string(),
    ]
}

pub(super) fn run(ctx: &mut Ctx, f: Format, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create(CreateArgs {
            name,
            subnet,
            ipv6,
            ipv4,
            ipv6_nat,
            ipv6_pool,
            gateway,
            mtu,
            bridge,
            internal,
            icc,
            dns,
            driver,
            parent,
            ip_range,
            mode,
            host_access,
        }) => {
            let macvlan = macvlan_request(&driver, parent, ip_range, mode, host_access)?;
            let subnets = subnet
                .iter()
                .map(|s| parse_subnet_any("--subnet", s))
                .collect::<Result<Vec<_>>>()?;
            let (subnet, subnet6) = split_subnets("--subnet", &subnets)?;
            let pool6 = ipv6_pool
                .as_deref()
                .map(|p| parse_cidr6("--ipv6-pool", p))
                .transpose()?;
            let n = network::create(
                ctx,
                &NetworkRequest {
                    name,
                    subnet,
                    subnet6,
                    ipv6: Some(ipv6),
                    nat6: Some(ipv6_nat),
                    pool6,
                    ipv4,
                    gateway: gateway
                        .as_deref()
                        .map(|g| parse_ipv4("--gateway", g))
                        .transpose()?,
                    mtu,
                    bridge,
                    internal,
                    icc,
                    dns,
                    macvlan,
                },
            )?;
            let d = view::network_detail(ctx, n)?;
            print(f, &d, &NET_HEADERS[..6], |d| vec![network_cells(&d.facts)])?;
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
            let note = d.facts.macvlan.as_ref().map(|m| m.host_reach.clone());
            print(f, &d, &NET_HEADERS, |d| {
                let members: Vec<String> = d
                    .containers
                    .iter()
                    .map(|m| format!("{}={}", m.name, opt(&view::both(&m.ip, &m.ip6))))
                    .collect();
                let mut cells = network_cells(&d.facts);
                cells.push(members.join(","));
                vec![cells]
            })?;
            if let (Format::Table, Some(note)) = (f, note) {
                outln!("note: {note}");
            }
        }
        NetworkCmd::Rm { names } => {
            return Ok(exit::each(&names, |n| network::remove(ctx, n)));
        }
        NetworkCmd::Prune => {
            for n in network::prune(ctx)? {
                outln!("{n}");
            }
        }
        NetworkCmd::Connect(a) => {
            let req = container::ConnectRequest {
                ip: a.ip.as_deref().map(|s| parse_ipv4("--ip", s)).transpose()?,
                ip6: a
                    .ip6
                    .as_deref()
                    .map(|s| parse_ipv6("--ip6", s))
                    .transpose()?,
                network: a.network,
                container: a.container,
                aliases: a.alias,
            };
            container::connect(ctx, &req)?;
        }
        NetworkCmd::Disconnect { network, container } => {
            container::disconnect(ctx, &network, &container)?
        }
    }
    Ok(0)
}

/// `--driver macvlan` and its flags as a request; the macvlan flags without it are refused.
fn macvlan_request(
    driver: &str,
    parent: Option<String>,
    ip_range: Option<String>,
    mode: Option<String>,
    host_access: bool,
) -> Result<Option<network::MacvlanRequest>> {
    use crate::model::{Driver, MacvlanMode};
    match Driver::parse("--driver", driver)? {
        Driver::Bridge => {
            let stray = [
                (parent.is_some(), "--parent"),
                (ip_range.is_some(), "--ip-range"),
                (mode.is_some(), "--mode"),
                (host_access, "--host-access"),
            ];
            if let Some((_, flag)) = stray.iter().find(|s| s.0) {
                return Err(Error::field(
                    flag.trim_start_matches("--").replace('-', "_"),
                    format!("{flag} applies to macvlan networks only: add --driver macvlan or drop {flag}"),
                ));
            }
            Ok(None)
        }
        Driver::Macvlan => {
            let parent = parent.ok_or_else(|| {
                Error::field(
                    "parent",
                    "a macvlan network needs --parent: the host interface on the LAN (e.g. eth0)",
                )
            })?;
            Ok(Some(network::MacvlanRequest {
                parent,
                mode: match mode {
                    Some(m) => MacvlanMode::parse("macvlan_mode", &m)?,
                    None => MacvlanMode::Bridge,
                },
                ip_range: ip_range
                    .as_deref()
                    .map(|r| crate::model::parse_cidr("--ip-range", r))
                    .transpose()?,
                host_access,
            }))
        }
    }
}
