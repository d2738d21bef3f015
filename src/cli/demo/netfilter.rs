//! The netfilter part of the tour: a second machine on a LAN (another namespace in the demo's
//! sandbox), a published port reached from it, and a container's outbound connection arriving
//! there with the host's address (masquerade).

use super::probe::exchange;
use super::tour::{check, step};
use crate::engine::{firewall, Ctx};
use crate::kernel::{addr, link, netns, route, Rtnl};
use crate::model::{parse_publish, Error, Result};
use crate::plan::netfilter as plan;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;

const HOST_LAN: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A namespace standing for another machine, joined to the sandbox's host by a veth "LAN"
/// (198.18.0.0/24, the benchmarking range: never a real network).
fn make_lan(path: &Path) -> Result<()> {
    netns::create(path)?;
    let ns = File::open(path)?;
    let mut host = Rtnl::open()?;
    link::create_veth(&mut host, "lan0", None, 1500, "lan1", ns.as_fd(), None)?;
    let lan0 = link::get(&mut host, "lan0")?.ok_or_else(|| Error::failed("lan0 missing"))?;
    addr::add(&mut host, lan0.index, HOST_LAN, 24)?;
    link::set_up(&mut host, lan0.index)?;
    route::add_default(&mut host, OUTSIDE)?;
    let mut out = netns::rtnl_in(&ns)?;
    link::set_up_by_name(&mut out, "lo")?;
    let lan1 = link::get(&mut out, "lan1")?.ok_or_else(|| Error::failed("lan1 missing"))?;
    addr::add(&mut out, lan1.index, OUTSIDE, 24)?;
    link::set_up(&mut out, lan1.index)
}

pub fn run(ctx: &mut Ctx, first_step: u32) -> Result<()> {
    let outside = Path::new("/run/podnet-demo/outside");
    make_lan(outside)?;
    step(
        first_step,
        "Another machine, and a published port",
        "A second namespace stands for another machine on the host's LAN: host 198.18.0.1, 'outside'\n\
         198.18.0.2. `podnet run -d --name web -p 8080:80` publishes web's port 80 as the host's 8080.",
    );
    let mut spec = super::tour::run_spec("web", "bridge");
    spec.ports = parse_publish("8080:80")?;
    let web = crate::engine::container::run(ctx, spec)?.endpoint;
    let web_ns = web.netns.as_deref().map(Path::new);
    let (heard, _) = exchange_to(web_ns, Some(outside), HOST_LAN, 8080)?;
    outln!("   outside -> 198.18.0.1:8080  web heard \"{heard}\"");
    check(
        heard.contains(&OUTSIDE.to_string()),
        "the outside machine reaches web through the published port (DNAT keeps its address)",
    )?;
    let (heard, _) = exchange_to(web_ns, None, Ipv4Addr::LOCALHOST, 8080)?;
    outln!("   host -> 127.0.0.1:8080     web heard \"{heard}\"");
    check(
        heard.starts_with("hello"),
        "the host reaches the published port on 127.0.0.1",
    )?;

    step(first_step + 1, "Outbound: masquerade", "web connects to the outside machine; netfilter rewrites the source to the host's LAN address.");
    let (heard, _) = exchange(Some(outside), web_ns, OUTSIDE, 9000)?;
    outln!("   web -> 198.18.0.2:9000   outside heard \"{heard}\"");
    check(
        heard.contains(&HOST_LAN.to_string()),
        "the container's connection leaves with the host's address as source",
    )?;

    step(
        first_step + 2,
        "The rules behind it",
        "podnet keeps its rules in its own nftables tables; containers, ports and networks are set and\n\
         map elements, so the rules below never grow - adding a container adds elements, in one\n\
         atomic transaction. (Rendered from podnet's state, as programmed.)",
    );
    let nets: Vec<_> = ctx
        .store
        .networks()?
        .iter()
        .map(firewall::net_facts)
        .collect();
    let ports: Vec<_> = ctx
        .store
        .all_ports()?
        .into_iter()
        .map(|(ip, m)| plan::PortFacts {
            container_ip: ip,
            container_ip6: None,
            mapping: m,
        })
        .collect();
    // Tables, sets, maps, chains and elements; the rules' kernel expressions are left out.
    let guards = firewall::guard_facts(&ctx.store.endpoints()?);
    let text = plan::describe(&plan::ruleset(&nets, &guards, &ports));
    let rules = text
        .lines()
        .filter(|l| l.trim_start().starts_with("rule "))
        .count();
    for line in text
        .lines()
        .filter(|l| !l.trim_start().starts_with('[') && !l.trim_start().starts_with("rule "))
    {
        outln!("   {line}");
    }
    outln!("   ({rules} rules in all, fixed; `nft list ruleset` shows them)");
    // web and the outside machine stay for the traces that follow.
    Ok(())
}

/// Serve on `0.0.0.0:80` inside `server_ns` and connect from `client_ns` to `ip:port`.
fn exchange_to(
    server_ns: Option<&Path>,
    client_ns: Option<&Path>,
    ip: Ipv4Addr,
    port: u16,
) -> Result<(String, String)> {
    let server = super::probe::serve_once(server_ns, Ipv4Addr::UNSPECIFIED, 80, "hello back")?;
    let reply = super::probe::ask(client_ns, ip, port, "hello")?;
    let heard = server
        .join()
        .map_err(|_| Error::failed("demo server thread panicked"))??;
    Ok((heard, reply))
}
