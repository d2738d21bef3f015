//! Container commands with more to them than one engine call: `run`, `ps`, `inspect` (and
//! the row any command that made a container prints), the `-p`/`-P` flags.

use crate::cli::args::RunArgs;
use crate::cli::exit;
use crate::cli::output::{opt, print};
use crate::cli::view;
use crate::cli::Format;
use crate::engine::container;
use crate::engine::{Ctx, DEFAULT_NETWORK};
use crate::model::filter::PsFilter;
use crate::model::{parse_ipv4, parse_ipv6, Error, Mode, PortRequest, Result};

/// `ps`: the containers `filter` selects, as a table, JSON, or (`quiet`) their names.
pub(super) fn ps(ctx: &Ctx, f: Format, all: bool, quiet: bool, filter: &[String]) -> Result<i32> {
    let filter = PsFilter::parse(all, filter, crate::engine::DEFAULT_NETWORK)?;
    let rows = view::containers_matching(ctx, &filter)?;
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
                        .network_cell()
                        .or(r.shares.as_ref().map(|s| format!("container:{s}")));
                    vec![
                        r.name.clone(),
                        r.status.into(),
                        r.mode.into(),
                        opt(&net),
                        opt(&r.ip_cell()),
                        opt(&r.pid),
                        r.ports.join(","),
                        opt(&r.runtime.as_ref().and_then(|v| v.pod())),
                    ]
                })
                .collect()
        },
    )?;
    Ok(0)
}

/// `inspect NAME...`: one container prints as an object, several as an array (one table
/// row each); every name that is not there is reported.
pub(super) fn inspect(ctx: &Ctx, f: Format, names: &[String]) -> Result<i32> {
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
            .network_cell()
            .or(r.shares.as_ref().map(|s| format!("container:{s}")))),
        opt(&r.ip_cell()),
        opt(&view::both(&r.gateway, &r.gateway6)),
        opt(&r.host_veth),
        opt(&r.netns),
        opt(&r.pid),
        r.ports.join(","),
        opt(&r.runtime.as_ref().and_then(|v| v.pod())),
    ]
}

/// The row of a container a command made (`attach`, `run -d` with `--format json`).
pub(super) fn show(ctx: &Ctx, f: Format, ep: &crate::model::Endpoint) -> Result<()> {
    let row = view::container_row(ctx, ep)?;
    print(f, &row, &INSPECT_HEADERS, |r| vec![inspect_cells(r)])
}

pub(super) fn run(ctx: &mut Ctx, f: Format, a: RunArgs) -> Result<i32> {
    let ports = run_ports(&a)?;
    let (first, more) = a
        .network
        .split_first()
        .expect("--network has a default value");
    let spec = container::RunSpec {
        name: a.name,
        network: Mode::parse(first, DEFAULT_NETWORK)?,
        more_networks: more
            .iter()
            .map(|n| container::network_name(n).to_string())
            .collect(),
        aliases: a.network_alias,
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
        etc: crate::model::etc::EtcSpec::parse(
            a.hostname.as_deref(),
            &a.dns,
            &a.dns_search,
            &a.add_host,
        )?,
    };
    let out = container::run(ctx, spec)?;
    match out.exit_code {
        Some(code) => Ok(code),
        None => {
            if f == Format::Json {
                show(ctx, f, &out.endpoint)?;
            } else {
                outln!("{}", out.endpoint.name);
            }
            Ok(0)
        }
    }
}

/// Every `-p` spec, expanded to one request per container port.
pub(super) fn parse_ports(specs: &[String]) -> Result<Vec<PortRequest>> {
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
