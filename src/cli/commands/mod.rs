//! One function per command: call the engine, print the result. `dispatch` opens the state
//! and runs the command; the commands with more to them live by topic: `container.rs`
//! (`run`, `ps`, `inspect`, their rows and port flags), `network.rs` (`network ...`), `gc.rs`
//! (`gc` and the note the first command after a boot prints).

mod container;
mod gc;
mod network;

use super::access::{access, is_listing};
use super::args::{Cli, Command};
use super::demo;
use super::exit;
use super::output::print;
use super::view;
use crate::engine::container as engine_container;
use crate::engine::logs::{self, Follow};
use crate::engine::DEFAULT_NETWORK;
use crate::engine::{Access, Ctx};
use crate::model::{parse_ipv4, parse_ipv6, Error, Mode, Result};
use std::time::Duration;

/// Probes one `podnet trace` sends, at most: each is armed, sent and reported on its own.
const MAX_PROBES: u32 = 100;

/// `podnet trace`: one report per probe (a JSON array with --count above 1); exit 0 whatever
/// the packet's fate (the report says it), 1 when no probe could be traced.
fn trace(
    ctx: &mut Ctx,
    f: super::args::Format,
    from: String,
    to: &str,
    ipv6: bool,
    count: u32,
    timeout: Option<f64>,
) -> Result<i32> {
    use crate::engine::trace;
    let (to, port, proto) = trace::parse_target(to)?;
    if !(1..=MAX_PROBES).contains(&count) {
        return Err(Error::input(format!(
            "--count {count}: give 1 to {MAX_PROBES} probes (each is traced on its own)"
        )));
    }
    let secs = match timeout {
        Some(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => t,
        Some(t) => {
            return Err(Error::input(format!(
                "--timeout {t}: give seconds, more than 0 and at most 3600"
            )))
        }
        // A probe's fate is known in milliseconds; an outside sender needs time to send.
        None if from.parse::<std::net::IpAddr>().is_ok() => 10.0,
        None => 0.9,
    };
    let req = trace::TraceRequest {
        from,
        to,
        port,
        proto,
        ipv6,
        timeout: Duration::from_secs_f64(secs),
    };
    let mut reports = vec![];
    for _ in 0..count {
        let r = trace::run(ctx, &req, &mut |note| exit::note(note.to_string()))?;
        if f == super::args::Format::Table {
            super::output::bytes(r.text().as_bytes());
        }
        reports.push(r);
    }
    if f == super::args::Format::Json {
        let v = match reports.len() {
            1 => serde_json::to_value(&reports[0]),
            _ => serde_json::to_value(&reports),
        }
        .map_err(|e| Error::failed(format!("trace: {e}")))?;
        super::output::bytes(format!("{v:#}\n").as_bytes());
    }
    Ok(0)
}

pub fn dispatch(cli: Cli) -> Result<i32> {
    super::graph::check_format(&cli.command, cli.format)?;
    match cli.command {
        Command::Demo => return demo::run(),
        Command::Agent(a) => return super::cluster_cmd::agent(&cli.root, &cli.run_dir, a),
        Command::Cluster(cmd) => return super::cluster_cmd::cluster(&cli.root, cmd),
        Command::Node(cmd) => return super::cluster_cmd::node(&cli.root, cli.format, cmd),
        _ => {}
    }
    // On a cluster node, services are the cluster's (etcd), not this host's store.
    if matches!(cli.command, Command::Service(_)) {
        if let Some(etcd) = super::service_cluster::cluster_of(&cli.root)? {
            let Command::Service(cmd) = cli.command else {
                unreachable!("matched above")
            };
            return super::service_cluster::run(&etcd, cli.format, cmd);
        }
    }
    // Bad input is said before whatever the state is (a fresh host has none).
    if let Command::Ui { listen } = &cli.command {
        super::ui::loopback(listen)?;
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
    let ctx = match opened {
        Err(e @ Error::NoState { .. }) if is_listing(&cli.command) => {
            exit::note(format!("{e}; nothing to list"));
            Ctx::empty(&cli.root, &cli.run_dir)?
        }
        Ok((ctx, recovered)) => {
            if let Some(r) = recovered {
                gc::note_recovery(&r);
            }
            ctx
        }
        Err(e) => return Err(e),
    };
    // Changed names are told to the agent (the engine only knows it as an `Announce`).
    let mut ctx = ctx.announce_names(crate::agent::client::announcer(&cli.root, &cli.run_dir));
    let f = cli.format;
    match cli.command {
        Command::Network(cmd) => return network::run(&mut ctx, f, cmd),
        Command::Service(cmd) => return super::service_cmd::run(&mut ctx, f, cmd),
        Command::Run(a) => return container::run(&mut ctx, f, a),
        Command::Attach(a) => {
            let req = engine_container::AttachRequest {
                ports: container::parse_ports(&a.publish)?,
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
            let ep = engine_container::attach(&mut ctx, &req)?;
            container::show(&ctx, f, &ep)?;
        }
        Command::Detach { name } => engine_container::detach(&mut ctx, &name)?,
        Command::Label { name, changes } => {
            let edits = crate::model::labels::parse_label_edits(&changes)?;
            engine_container::relabel(&mut ctx, &name, &edits)?
        }
        Command::Ports { name } => {
            let ep = engine_container::find(&ctx, &name)?;
            let rows = view::ports(&ctx, &ep)?;
            print(f, &rows, &["HOST", "CONTAINER", "PROTO"], |rows| {
                rows.iter()
                    .map(|r| {
                        vec![
                            match r.host_ip.contains(':') {
                                true => format!("[{}]:{}", r.host_ip, r.host_port),
                                false => format!("{}:{}", r.host_ip, r.host_port),
                            },
                            format!("{}:{}", r.container_ip, r.container_port),
                            r.proto.clone(),
                        ]
                    })
                    .collect()
            })?;
        }
        Command::Ps { all, quiet, filter } => return container::ps(&ctx, f, all, quiet, &filter),
        Command::Inspect { names } => return container::inspect(&ctx, f, &names),
        Command::Exec { name, argv } => engine_container::exec(&ctx, &name, &argv)?,
        Command::Logs { follow, name } => {
            let follow = if follow { Follow::Yes } else { Follow::No };
            logs::copy(&ctx, &name, follow, super::output::bytes)?;
        }
        Command::Stop { names, time } => {
            let failed = engine_container::stop(&mut ctx, &names, Duration::from_secs(time));
            return Ok(exit::several(names.len(), failed));
        }
        Command::Rm { force, names } => {
            return Ok(exit::each(&names, |n| {
                engine_container::rm(&mut ctx, n, force)
            }));
        }
        Command::Gc { remove_foreign } => gc::run(&mut ctx, f, remove_foreign)?,
        Command::Trace {
            from,
            to,
            ipv6,
            count,
            timeout,
        } => return trace(&mut ctx, f, from, &to, ipv6, count, timeout),
        Command::Graph { network } => super::graph::run(&mut ctx, f, network.as_deref())?,
        Command::Ui { listen } => return super::ui::run(ctx, &cli.root, &cli.run_dir, &listen),
        Command::Demo | Command::Agent(_) | Command::Cluster(_) | Command::Node(_) => {
            unreachable!("handled above")
        }
    }
    Ok(0)
}
