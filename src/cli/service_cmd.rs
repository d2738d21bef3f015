//! `podnet service ...`.

use super::args::{ServiceCmd, ServiceCreateArgs};
use super::output::{opt, print};
use super::service_view::{self, ServiceRow};
use super::Format;
use crate::engine::service;
use crate::engine::Ctx;
use crate::model::service::ServiceSpec;
use crate::model::{Error, Result};

pub(super) const HEADERS: [&str; 5] = ["NAME", "VIP", "PORTS", "BACKENDS", "AFFINITY"];

pub(super) fn table(rows: &[ServiceRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.name.clone(),
                [Some(r.vip.clone()), r.vip6.clone().filter(|v| *v != r.vip)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(","),
                r.ports.join(","),
                backends_cell(r),
                opt(&r.affinity_timeout.map(|t| format!("client-ip {t}s"))),
            ]
        })
        .collect()
}

/// IPv4 then IPv6 backends, and the ones left out of the IPv6 side.
fn backends_cell(r: &ServiceRow) -> String {
    let all: Vec<&str> = r
        .backends
        .iter()
        .chain(&r.backends6)
        .map(String::as_str)
        .collect();
    let mut cell = if all.is_empty() {
        "-".to_string()
    } else {
        all.join(",")
    };
    if !r.without_ipv6.is_empty() {
        cell.push_str(&format!(" (no IPv6: {})", r.without_ipv6.join(",")));
    }
    cell
}

pub fn run(ctx: &mut Ctx, f: Format, cmd: ServiceCmd) -> Result<i32> {
    match cmd {
        ServiceCmd::Create(a) => {
            let rec = service::create(ctx, &spec_of(a).parse()?)?;
            let row = service_view::row_of(ctx, &rec)?;
            print(f, &row, &HEADERS, |r| table(std::slice::from_ref(r)))?;
        }
        ServiceCmd::Ls => {
            let rows = service_view::rows(ctx)?;
            print(f, &rows, &HEADERS, |r| table(r))?;
        }
        ServiceCmd::Inspect { name } => {
            let rec = ctx.store.service(&name)?.ok_or_else(|| {
                Error::input(format!(
                    "no service named '{name}': see `podnet service ls`"
                ))
            })?;
            let row = service_view::row_of(ctx, &rec)?;
            print(f, &row, &HEADERS, |r| table(std::slice::from_ref(r)))?;
        }
        ServiceCmd::Rm { names } => {
            return Ok(super::exit::each(&names, |n| service::remove(ctx, n)));
        }
    }
    Ok(0)
}

/// The flags of `service create` as the model's unparsed spec.
pub(super) fn spec_of(a: ServiceCreateArgs) -> ServiceSpec {
    let ServiceCreateArgs {
        name,
        ports,
        vips,
        ip_family,
        selector,
        backends,
        affinity,
        affinity_timeout,
        node_port,
    } = a;
    ServiceSpec {
        name,
        ports,
        vips,
        ip_family,
        selector,
        backends,
        affinity,
        affinity_timeout,
        node_port,
    }
}
