//! One function per command: call the engine, print the result.

use super::access::{access, is_listing};
use super::args::{Cli, Command, CreateArgs, NetworkCmd, RunArgs};
use super::exit;
use super::output::{opt, print};
use super::view;
use super::{demo, Format};
use crate::engine::logs::{self, Follow};
use crate::engine::network::{self, NetworkRequest};
use crate::engine::DEFAULT_NETWORK;
use crate::engine::{container, gc, Access, Ctx};
use crate::model::filter::PsFilter;
use crate::model::{
    parse_cidr6, parse_ipv4, parse_ipv6, parse_subnet_any, split_subnets, Error, Mode, PortRequest,
    Result,
};
use std::time::Duration;

pub fn dispatch(cli: Cli) -> Result<i32> {
    if let Command::Demo = cli.command {
        return demo::run();
    }
    // `gc` does all the boot recovery does (and marks it done); every other command that
    // changes state gets it from `engine::open`.
    let access = match cli.command {
        Command::Gc { .. } => None,
        _ => Some(access(&cli.command)),
    };
    let opened = match access {
        Some(a) => crate::engine::open(&cli.root, &cli.run_dir, a),
        None => Ctx::open_as(&cli.root, &cli.run_dir, Access::Create).map(|c| (c, None)),
    };
    let mut ctx = match opened {
        Err(e @ Error::NoState { .. }) if is_listing(&cli.command) => {
            exit::note(format!("{e}; nothing to list"));
            Ctx::empty(&cli.root, &cli.run_dir)?
        }
        Ok((ctx, recovered)) => {
            if let Some(r) = recovered {
                note_recovery(&r);
            }
            ctx
        }
        Err(e) => return Err(e),
    };
    let f = cli.format;
    match cli.command {
        Command::Network(cmd) => return network_cmd(&mut ctx, f, cmd),
        Command::Service(cmd) => return super::service_cmd::run(&mut ctx, f, cmd),
        Command::Run(a) => return run(&mut ctx, f, a),
        Command::Attach(a) => {
            let req = container::AttachRequest {
                ports: parse_ports(&a.publish)?,
                labels: crate::model::parse_labels(&a.label)?,
                network: Mode::parse(&a.network, DEFAULT_NETWORK)?,
                ip: a.ip.as_deref().map(|s| parse_ipv4("--ip", s)).transpose()?,
                ip6: a
                    .ip6
                    .as_deref()
                    .map(|s| parse_ipv6("--ip6", s))
                    .transpose()?,
                netns: a.netns.into(),
                name: a.name,
            };
            let ep = container::attach(&mut ctx, &req)?;
            show_container(&ctx, f, &ep)?;
        }
        Command::Detach { name } => container::detach(&mut ctx, &name)?,
        Command::Label { name, changes } => {
            let edits = crate::model::labels::parse_label_edits(&changes)?;
            container::relabel(&mut ctx, &name, &edits)?
        }
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
        Command::Ps { all, quiet, filter } => {
            let filter = PsFilter::parse(all, &filter, crate::engine::DEFAULT_NETWORK)?;
            let rows = view::containers_matching(&ctx, &filter)?;
            if quiet {
                for r in &rows {
                    outln!("{}", r.name);
                }
                return Ok(0);
            }
            print(
                f,
                &rows,
                &[
                    "NAME", "STATUS", "MODE", "NETWORK", "IP", "PID", "PORTS", "POD",
                ],
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
                                opt(&view::both(&r.ip, &r.ip6)),
                                opt(&r.pid),
                                r.ports.join(","),
                                opt(&r.runtime.as_ref().and_then(|v| v.pod())),
                            ]
                        })
                        .collect()
                },
            )?;
        }
        Command::Inspect { names } => return inspect(&ctx, f, &names),
        Command::Exec { name, argv } => container::exec(&ctx, &name, &argv)?,
        Command::Logs { follow, name } => {
            let follow = if follow { Follow::Yes } else { Follow::No };
            logs::copy(&ctx, &name, follow, super::output::bytes)?;
        }
        Command::Stop { names, time } => {
            let failed = container::stop(&mut ctx, &names, Duration::from_secs(time));
            return Ok(exit::several(names.len(), failed));
        }
        Command::Rm { force, names } => {
            return Ok(exit::each(&names, |n| container::rm(&mut ctx, n, force)));
        }
        Command::Gc { remove_foreign } => {
            let r = if remove_foreign {
                gc::run_removing_foreign(&mut ctx)?
            } else {
                gc::run(&mut ctx, gc::Scope::Full)?
            };
            crate::engine::boot::mark_recovered(&ctx)?;
            if !r.foreign.is_empty() {
                exit::note(format!(
                    "left alone (another podnet state's, not this one's): {}",
                    r.foreign.join(", ")
                ));
            }
            print(f, &r, &["WHAT", "NAME", "ACTION", "WHY"], gc_rows)?;
        }
        Command::Demo => unreachable!("handled above"),
    }
    Ok(0)
}

/// One line on stderr when the first command after a boot had to retire or repair anything.
fn note_recovery(r: &gc::Report) {
    if r.is_empty() {
        return;
    }
    let names = |v: &[gc::Action], action: &str| -> Vec<String> {
        v.iter()
            .filter(|a| a.action == action)
            .map(|a| a.name.clone())
            .collect()
    };
    let mut parts = Vec::new();
    for (what, list) in [
        ("retired containers", names(&r.containers, "retired")),
        ("repaired containers", names(&r.containers, "repaired")),
        ("repaired networks", names(&r.networks, "repaired")),
        ("removed networks", names(&r.networks, "removed")),
        ("finished networks", names(&r.networks, "finished")),
    ] {
        if !list.is_empty() {
            parts.push(format!("{what} {}", list.join(", ")));
        }
    }
    exit::note(format!(
        "first command since boot rebuilt podnet's state: {}",
        parts.join("; ")
    ));
}

fn gc_rows(r: &gc::Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (kind, items) in [("container", &r.containers), ("network", &r.networks)] {
        rows.extend(items.iter().map(|a| {
            vec![
                kind.to_string(),
                a.name.clone(),
                a.action.into(),
                a.why.clone(),
            ]
        }));
    }
    for (kind, items) in [
        ("link", &r.links),
        ("namespace", &r.namespaces),
        ("log", &r.logs),
    ] {
        rows.extend(items.iter().map(|i| {
            vec![
                kind.to_string(),
                i.clone(),
                "removed".into(),
                "no record owns it".into(),
            ]
        }));
    }
    rows.extend(r.tables.iter().map(|t| {
        vec![
            "table".into(),
            t.clone(),
            "removed".into(),
            "another state's (--remove-foreign)".into(),
        ]
    }));
    rows
}

/// `inspect NAME...`: one container prints as an object, several as an array (one table
/// row each); every name that is not there is reported.
fn inspect(ctx: &Ctx, f: Format, names: &[String]) -> Result<i32> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match container::find(ctx, n).and_then(|ep| view::container_row(ctx, &ep)) {
            Ok(r) => rows.push(r),
            Err(e) => errors.push(e),
        }
    }
    match (names.len(), rows.as_slice()) {
        (_, []) => {}
        (1, [one]) => print(f, one, &INSPECT_HEADERS, |r| vec![inspect_cells(r)])?,
        _ => print(f, &rows, &INSPECT_HEADERS, |rows| {
            rows.iter().map(inspect_cells).collect()
        })?,
    }
    Ok(exit::several(names.len(), errors))
}

const INSPECT_HEADERS: [&str; 11] = [
    "NAME",
    "STATUS",
    "MODE",
    "NETWORK",
    "IP",
    "GATEWAY",
    "HOST VETH",
    "NETNS",
    "PID",
    "PORTS",
    "POD",
];

fn inspect_cells(r: &view::ContainerRow) -> Vec<String> {
    vec![
        r.name.clone(),
        r.status.into(),
        r.mode.into(),
        opt(&r
            .network
            .clone()
            .or(r.shares.as_ref().map(|s| format!("container:{s}")))),
        opt(&view::both(&r.ip, &r.ip6)),
        opt(&view::both(&r.gateway, &r.gateway6)),
        opt(&r.host_veth),
        opt(&r.netns),
        opt(&r.pid),
        r.ports.join(","),
        opt(&r.runtime.as_ref().and_then(|v| v.pod())),
    ]
}

fn show_container(ctx: &Ctx, f: Format, ep: &crate::model::Endpoint) -> Result<()> {
    let row = view::container_row(ctx, ep)?;
    print(f, &row, &INSPECT_HEADERS, |r| vec![inspect_cells(r)])
}

fn run(ctx: &mut Ctx, f: Format, a: RunArgs) -> Result<i32> {
    let ports = run_ports(&a)?;
    let spec = container::RunSpec {
        name: a.name,
        network: Mode::parse(&a.network, DEFAULT_NETWORK)?,
        ip: a.ip.as_deref().map(|s| parse_ipv4("--ip", s)).transpose()?,
        ip6: a
            .ip6
            .as_deref()
            .map(|s| parse_ipv6("--ip6", s))
            .transpose()?,
        detach: a.detach,
        ports,
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
        opt(&view::both(&Some(n.subnet.clone()), &n.subnet6)),
        opt(&view::both(&Some(n.gateway.clone()), &n.gateway6)),
        n.mtu.to_string(),
    ]
}

fn network_cmd(ctx: &mut Ctx, f: Format, cmd: NetworkCmd) -> Result<i32> {
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
        }) => {
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
                    ipv6,
                    nat6: ipv6_nat,
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
                    .map(|m| format!("{}={}", m.name, opt(&view::both(&m.ip, &m.ip6))))
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

/// Every `-p` spec, expanded to one request per container port.
fn parse_ports(specs: &[String]) -> Result<Vec<PortRequest>> {
    let mut out = Vec::new();
    for s in specs {
        out.extend(crate::model::parse_publish(s)?);
    }
    Ok(out)
}

/// `run`'s ports: every `-p`, plus with `-P` every `--expose`d port not already published.
fn run_ports(a: &RunArgs) -> Result<Vec<PortRequest>> {
    let explicit = parse_ports(&a.publish)?;
    let mut exposed = Vec::new();
    for e in &a.expose {
        exposed.extend(crate::model::parse_expose(e)?);
    }
    if !a.publish_all {
        return Ok(explicit);
    }
    if exposed.is_empty() {
        return Err(Error::input(
            "-P publishes the ports given with --expose, and there are none: add --expose PORT[/PROTO] or use -p",
        ));
    }
    Ok(crate::model::publish_exposed(explicit, &exposed))
}
