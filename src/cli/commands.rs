//! One function per command: call the engine, print the result.

use super::args::{Cli, Command, CreateArgs, NetworkCmd, RunArgs, ServiceCmd};
use super::exit;
use super::output::{opt, print};
use super::{demo, Format};
use crate::engine::logs::{self, Follow};
use crate::engine::network::{self, NetworkSpec};
use crate::engine::{container, gc, view, Access, Ctx};
use crate::model::{Error, Result};
use std::time::Duration;

/// How a command uses state: reads never create a store, changes need CAP_NET_ADMIN.
fn access(cmd: &Command) -> Access {
    match cmd {
        Command::Ps
        | Command::Inspect { .. }
        | Command::Ports { .. }
        | Command::Exec { .. }
        | Command::Logs { .. }
        | Command::Network(NetworkCmd::Ls | NetworkCmd::Inspect { .. })
        | Command::Service(ServiceCmd::Ls | ServiceCmd::Inspect { .. }) => Access::Read,
        Command::Detach { .. }
        | Command::Stop { .. }
        | Command::Rm { .. }
        | Command::Label { .. }
        | Command::Network(NetworkCmd::Rm { .. } | NetworkCmd::Prune)
        | Command::Service(ServiceCmd::Rm { .. }) => Access::Change,
        _ => Access::Create,
    }
}

/// Listings, which show an empty list (with a note) where there is no state.
fn is_listing(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Ps | Command::Network(NetworkCmd::Ls) | Command::Service(ServiceCmd::Ls)
    )
}

pub fn dispatch(cli: Cli) -> Result<i32> {
    if let Command::Demo = cli.command {
        return demo::run();
    }
    let mut ctx = match Ctx::open_as(&cli.root, &cli.run_dir, access(&cli.command)) {
        Err(e @ Error::NoState { .. }) if is_listing(&cli.command) => {
            exit::note(format!("{e}; nothing to list"));
            Ctx::empty(&cli.root, &cli.run_dir)?
        }
        r => r?,
    };
    let f = cli.format;
    match cli.command {
        Command::Network(cmd) => return network_cmd(&mut ctx, f, cmd),
        Command::Service(cmd) => return super::service_cmd::run(&mut ctx, f, cmd),
        Command::Run(a) => return run(&mut ctx, f, a),
        Command::Attach(a) => {
            let ports = parse_ports(&a.publish)?;
            let labels = crate::model::parse_labels(&a.label)?;
            let ep = container::attach(
                &mut ctx,
                &a.netns,
                &a.name,
                &a.network,
                a.ip.as_deref(),
                &ports,
                &labels,
            )?;
            show_container(&ctx, f, &ep)?;
        }
        Command::Detach { name } => container::detach(&mut ctx, &name)?,
        Command::Label { name, changes } => container::relabel(&mut ctx, &name, &changes)?,
        Command::Ports { name } => {
            let ep = container::find(&ctx, &name)?;
            let rows = view::ports(&ctx, &ep)?;
            print(f, &rows, &["HOST", "CONTAINER", "PROTO"], |rows| {
                rows.iter()
                    .map(|r| {
                        vec![
                            format!("{}:{}", r.host_ip, r.host_port),
                            format!("{}:{}", r.container_ip, r.container_port),
                            r.proto.clone(),
                        ]
                    })
                    .collect()
            })?;
        }
        Command::Ps => {
            let rows = view::containers(&ctx)?;
            print(
                f,
                &rows,
                &["NAME", "STATUS", "MODE", "NETWORK", "IP", "PID", "PORTS"],
                |rows| {
                    rows.iter()
                        .map(|r| {
                            let net = r
                                .network
                                .clone()
                                .or(r.shares.as_ref().map(|s| format!("container:{s}")));
                            vec![
                                r.name.clone(),
                                r.status.into(),
                                r.mode.into(),
                                opt(&net),
                                opt(&r.ip),
                                opt(&r.pid),
                                r.ports.join(","),
                            ]
                        })
                        .collect()
                },
            )?;
        }
        Command::Inspect { name } => {
            let ep = container::find(&ctx, &name)?;
            show_container(&ctx, f, &ep)?;
        }
        Command::Exec { name, argv } => container::exec(&ctx, &name, &argv)?,
        Command::Logs { follow, name } => {
            let follow = if follow { Follow::Yes } else { Follow::No };
            logs::copy(&ctx, &name, follow, super::output::bytes)?;
        }
        Command::Stop { name, time } => {
            container::stop(&mut ctx, &name, Duration::from_secs(time))?
        }
        Command::Rm { force, names } => {
            return Ok(exit::each(&names, |n| container::rm(&mut ctx, n, force)));
        }
        Command::Gc => {
            let r = gc::run(&mut ctx)?;
            print(f, &r, &["REMOVED", "WHAT"], |r| {
                let mut rows = Vec::new();
                for (kind, items) in [
                    ("container", &r.endpoints),
                    ("link", &r.links),
                    ("namespace", &r.namespaces),
                    ("network", &r.networks),
                    ("log", &r.logs),
                ] {
                    rows.extend(items.iter().map(|i| vec![i.clone(), kind.to_string()]));
                }
                rows
            })?;
        }
        Command::Demo => unreachable!("handled above"),
    }
    Ok(0)
}

fn show_container(ctx: &Ctx, f: Format, ep: &crate::model::Endpoint) -> Result<()> {
    let row = view::container_row(ctx, ep)?;
    print(
        f,
        &row,
        &[
            "NAME",
            "STATUS",
            "MODE",
            "NETWORK",
            "IP",
            "GATEWAY",
            "HOST VETH",
            "NETNS",
            "PID",
        ],
        |r| {
            vec![vec![
                r.name.clone(),
                r.status.into(),
                r.mode.into(),
                opt(&r
                    .network
                    .clone()
                    .or(r.shares.as_ref().map(|s| format!("container:{s}")))),
                opt(&r.ip),
                opt(&r.gateway),
                opt(&r.host_veth),
                opt(&r.netns),
                opt(&r.pid),
            ]]
        },
    )
}

fn run(ctx: &mut Ctx, f: Format, a: RunArgs) -> Result<i32> {
    let spec = container::RunSpec {
        name: a.name,
        network: a.network,
        ip: a.ip,
        detach: a.detach,
        ports: parse_ports(&a.publish)?,
        labels: crate::model::parse_labels(&a.label)?,
        argv: a.argv,
        log: crate::model::logs::log_config(a.log_max_size.as_deref(), a.log_max_files)?,
    };
    let out = container::run(ctx, spec)?;
    match out.exit_code {
        Some(code) => Ok(code),
        None => {
            if f == Format::Json {
                show_container(ctx, f, &out.endpoint)?;
            } else {
                outln!("{}", out.endpoint.name);
            }
            Ok(0)
        }
    }
}

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

fn network_cmd(ctx: &mut Ctx, f: Format, cmd: NetworkCmd) -> Result<i32> {
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
                &NetworkSpec {
                    name,
                    subnet,
                    gateway,
                    mtu,
                    bridge,
                    internal,
                    no_icc: !icc,
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

/// Every `-p` spec, expanded to one mapping per host port.
fn parse_ports(specs: &[String]) -> Result<Vec<crate::model::PortMapping>> {
    let mut out = Vec::new();
    for s in specs {
        out.extend(crate::model::parse_publish(s)?);
    }
    Ok(out)
}
