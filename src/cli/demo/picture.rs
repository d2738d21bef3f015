//! The tour's last part (issue 12, acceptance 6): the picture of the demo's own scene as
//! `podnet graph` draws it, then one `podnet trace` of each kind the scene allows, each
//! introduced by one sentence a learner can follow. Traces are real probes followed with
//! nftables tracing (`engine::trace::run`), the same code the CLI runs.

use super::tour::{check, run_spec, step};
use crate::cli::args::Format;
use crate::engine::network::{self, NetworkRequest};
use crate::engine::trace::{self, Outcome, TraceRequest};
use crate::engine::{graph, service, Ctx};
use crate::model::service::ServiceSpec;
use crate::model::{Proto, Result};
use std::time::Duration;

/// What the scene gains here so that each kind of trace has something to show: a service
/// backed by b, and a second network with one container (isolated from the first).
fn extend_scene(ctx: &mut Ctx) -> Result<()> {
    let spec = ServiceSpec {
        name: "api".into(),
        ports: vec!["80/tcp".into()],
        backends: vec!["b:8080".into()],
        ..Default::default()
    };
    service::create(ctx, &spec.parse()?)?;
    network::create(
        ctx,
        &NetworkRequest {
            name: "db".into(),
            ..Default::default()
        },
    )?;
    crate::engine::container::run(ctx, run_spec("d", "db"))?;
    Ok(())
}

/// `podnet trace FROM TO:PORT` with the CLI's default timeout for a probe podnet sends.
fn show_trace(
    ctx: &mut Ctx,
    why: &str,
    from: &str,
    to: &str,
    port: u16,
    want: Outcome,
) -> Result<()> {
    outln!("\n   {why}\n   $ podnet trace {from} {to}:{port}");
    let req = TraceRequest {
        from: from.into(),
        to: to.into(),
        port,
        proto: Proto::Tcp,
        ipv6: false,
        timeout: Duration::from_millis(900),
    };
    let r = trace::run(ctx, &req, &mut |note| outln!("   {note}"))?;
    for line in r.text().lines() {
        outln!("     {line}");
    }
    check(
        r.outcome == want,
        &format!("trace {from} -> {to}:{port} ended as the scene says it must"),
    )
}

pub fn run(ctx: &mut Ctx, first_step: u32, outside: &str) -> Result<()> {
    extend_scene(ctx)?;
    step(
        first_step,
        "The whole picture: podnet graph",
        "Two more things join the scene: a service 'api' (a virtual IP whose port 80 leads to b's\n\
         8080) and a second network 'db' with a container 'd'. `podnet graph` draws everything from\n\
         podnet's records and the kernel together: the host, each network's bridge, each container's\n\
         namespace with its interfaces, addresses and routes, the veth pairs, ports and services.",
    );
    let g = graph::graph(ctx, None)?;
    let text = crate::cli::graph::render(&g, Format::Text)?;
    for line in text.trim_end().lines() {
        outln!("   {line}");
    }
    check(
        g.flags.is_empty(),
        "the kernel holds exactly what podnet recorded (no flags)",
    )?;

    step(
        first_step + 1,
        "A packet's path: podnet trace",
        "`podnet trace` sends one real TCP SYN and follows it with nftables tracing hook by hook\n\
         (prerouting, routing, input/forward, output, postrouting) in every namespace it crosses,\n\
         naming the podnet object behind each rule that decided its fate.",
    );
    show_trace(
        ctx,
        "Container to container on one bridge: the bridge switches it, netfilter's forward hook lets it by.",
        "a",
        "b",
        8080,
        Outcome::Reached,
    )?;
    show_trace(
        ctx,
        "Container to the outside machine: routed out of the host, the source rewritten to the host's (masquerade).",
        "web",
        outside,
        9000,
        Outcome::Left,
    )?;
    show_trace(
        ctx,
        "The host to a published port: DNAT rewrites 127.0.0.1:8080 to web's address and port 80.",
        "host",
        "127.0.0.1",
        8080,
        Outcome::Reached,
    )?;
    show_trace(
        ctx,
        "Container to a service's virtual IP: DNAT picks a backend (b) and rewrites the destination to it.",
        "a",
        "api",
        80,
        Outcome::Reached,
    )?;
    show_trace(
        ctx,
        "Between two networks: podnet isolates them, so the forward hook drops it - and says why.",
        "a",
        "d",
        80,
        Outcome::Dropped,
    )?;
    Ok(())
}

/// Undo what [`extend_scene`] added (the sandbox would anyway; this shows the commands).
pub fn clean(ctx: &mut Ctx) -> Result<()> {
    service::remove(ctx, "api")?;
    outln!("   removed service api");
    crate::engine::container::rm(ctx, "d", true)?;
    outln!("   removed d");
    network::remove(ctx, "db")?;
    outln!("   removed network db");
    Ok(())
}
