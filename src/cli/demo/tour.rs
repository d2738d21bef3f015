//! The tour itself: each step does one real thing with the engine and shows what the kernel
//! now holds, in words a person learning container networking can follow.

use super::probe::{describe, exchange};
use crate::engine::container::{self, RunSpec};
use crate::engine::{Ctx, DEFAULT_NETWORK};
use crate::model::{Endpoint, Error, Result};
use std::net::Ipv4Addr;
use std::path::Path;

pub(super) fn step(n: u32, title: &str, text: &str) {
    outln!("\n== {n}. {title}\n{text}");
}

/// `podnet run -d --name NAME --network NETWORK -- sleep 3600`, as a spec to adjust.
pub(super) fn run_spec(name: &str, network: &str) -> RunSpec {
    RunSpec {
        name: Some(name.into()),
        network: crate::model::Mode::parse(network, DEFAULT_NETWORK)
            .expect("the tour names valid networks"),
        more_networks: Vec::new(),
        aliases: Vec::new(),
        ip: None,
        ip6: None,
        ports: Vec::new(),
        labels: Default::default(),
        detach: true,
        argv: vec!["sleep".into(), "3600".into()],
        log: Default::default(),
        etc: Default::default(),
    }
}

fn start(ctx: &mut Ctx, name: &str, network: &str) -> Result<Endpoint> {
    Ok(container::run(ctx, run_spec(name, network))?.endpoint)
}

fn ns(ep: &Endpoint) -> Option<&Path> {
    ep.netns.as_deref().map(Path::new)
}

pub(super) fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        outln!("   ok: {what}");
        Ok(())
    } else {
        Err(Error::failed(format!("demo check failed: {what}")))
    }
}

pub fn run() -> Result<()> {
    outln!("podnet demo: container networking, step by step, with real kernel objects.");
    outln!("Everything happens in a sandbox (fresh network, mount and PID namespaces) that vanishes at the end.");
    let mut ctx = Ctx::open(Path::new("/run/podnet-demo"), Path::new("/run/podnet"))?;

    step(
        1,
        "The host before",
        "The sandbox's host namespace has only loopback: no bridge, no other routes.",
    );
    outln!("{}", describe(None, "   ")?.trim_end_matches('\n'));

    let a = start(&mut ctx, "a", "bridge")?;
    let net = ctx
        .store
        .network(DEFAULT_NETWORK)?
        .ok_or_else(|| Error::failed("default network missing"))?;
    step(
        2,
        "First container: a network namespace, a veth pair, a bridge",
        &format!(
            "`podnet run -d --name a -- sleep 3600` made, on first use, the default network {DEFAULT_NETWORK}:\n\
             a Linux bridge '{}' (a virtual switch) holding the gateway address {}/{} from the private\n\
             subnet {}. Then a new network namespace for 'a' (its own interfaces, addresses, routes),\n\
             and a veth pair - two interfaces joined by a virtual cable: '{}' stays on the host,\n\
             plugged into the bridge; its peer was created inside 'a' as eth0.",
            net.bridge,
            net.gateway,
            net.subnet.prefix_len(),
            net.subnet,
            a.host_veth.as_deref().unwrap_or("-")
        ),
    );
    outln!("   host namespace:");
    outln!("{}", describe(None, "     ")?.trim_end_matches('\n'));
    outln!("   inside 'a' ({}):", a.netns.as_deref().unwrap_or("-"));
    outln!("{}", describe(ns(&a), "     ")?.trim_end_matches('\n'));
    outln!(
        "   'a' got {} from IPAM; its default route points at the gateway, the bridge's address.",
        a.ip.map(|i| i.to_string()).unwrap_or_default()
    );

    let b = start(&mut ctx, "b", "bridge")?;
    let (ip_a, ip_b) = (a.ip.expect("bridge ip"), b.ip.expect("bridge ip"));
    step(
        3,
        "Second container, same bridge",
        &format!(
            "'b' got {ip_b} and its own veth '{}' on the same bridge.",
            b.host_veth.as_deref().unwrap_or("-")
        ),
    );
    let (heard, reply) = exchange(ns(&a), ns(&b), ip_a, 8080)?;
    outln!("   b -> a:8080  a heard \"{heard}\", b got \"{reply}\"");
    check(
        heard.contains(&ip_b.to_string()) && reply == "hello back",
        "TCP from b reaches a, with b's own address as source",
    )?;
    let (heard, reply) = exchange(ns(&b), ns(&a), ip_b, 8080)?;
    outln!("   a -> b:8080  b heard \"{heard}\", a got \"{reply}\"");
    check(reply == "hello back", "TCP from a reaches b")?;
    let (heard, _) = exchange(None, ns(&a), net.gateway, 9000)?;
    outln!(
        "   a -> gateway {}:9000 (a server in the host namespace)  host heard \"{heard}\"",
        net.gateway
    );
    check(
        heard.contains(&ip_a.to_string()),
        "a reaches the host through the bridge's gateway address",
    )?;

    step(
        4,
        "--network none",
        "A namespace with loopback only: no way in or out.",
    );
    let none = start(&mut ctx, "isolated", "none")?;
    outln!("{}", describe(ns(&none), "   ")?.trim_end_matches('\n'));

    step(
        5,
        "--network container:a",
        "'sidecar' joins a's namespace: same interfaces, same address; they talk over 127.0.0.1.",
    );
    let side = start(&mut ctx, "sidecar", "container:a")?;
    outln!("{}", describe(ns(&side), "   ")?.trim_end_matches('\n'));
    let (heard, reply) = exchange(ns(&a), ns(&side), Ipv4Addr::LOCALHOST, 7070)?;
    outln!("   sidecar -> 127.0.0.1:7070 served by a: heard \"{heard}\", got \"{reply}\"");
    check(
        reply == "hello back",
        "a container sharing a's namespace reaches a over loopback",
    )?;

    step(6, "--network host", "No namespace of its own: the process sees the host's interfaces, bridge and veths included.");
    let host = start(&mut ctx, "hostnet", "host")?;
    outln!(
        "   hostnet runs in the host namespace (pid {}); it sees exactly the host's view above.",
        host.pid.map(|p| p.0).unwrap_or_default()
    );

    super::netfilter::run(&mut ctx, 7)?;
    super::picture::run(&mut ctx, 10, &super::netfilter::OUTSIDE.to_string())?;

    step(12, "Cleaning up", "`podnet rm -f` kills each process and unmounts its namespace; the kernel then destroys the veth inside it.");
    super::picture::clean(&mut ctx)?;
    for n in ["web", "sidecar", "hostnet", "isolated", "b", "a"] {
        container::rm(&mut ctx, n, true)?;
        outln!("   removed {n}");
    }
    outln!("\nDone. Leaving the demo destroys its sandbox and everything in it.");
    Ok(())
}
