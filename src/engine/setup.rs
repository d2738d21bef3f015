//! Setting an endpoint up: record, namespace, veth, addresses, routes — each a numbered step
//! (the fault switch's `attach:K`), so that a crash between any two is repaired by `gc`.

use super::{detach, network, proc, publish, Ctx};
use crate::fault;
use crate::ipam;
use crate::kernel::{addr, link, netns, route, Rtnl};
use crate::model::{validate_name, Endpoint, Error, Labels, Mode, Network, PortMapping, Result};
use crate::store::{endpoints, NewEndpoint};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::PathBuf;

/// Where an endpoint's namespace comes from.
pub enum Netns {
    /// podnet creates and owns it (`run`).
    Create,
    /// An existing namespace (`attach --netns`, or the one `container:NAME` shares).
    Existing(PathBuf),
    /// The host's own (`--network host`).
    Host,
}

pub struct EndpointSpec<'a> {
    pub name: &'a str,
    pub mode: Mode,
    pub netns: Netns,
    pub ip: Option<&'a str>,
    /// Published ports (`-p`), one per host port.
    pub ports: &'a [PortMapping],
    /// Labels (`--label`), what service selectors match.
    pub labels: &'a Labels,
    /// Keep the calling process as the endpoint's owner once ready (a foreground `run`: when
    /// this process is gone, the endpoint is garbage).
    pub owned_by_caller: bool,
}

/// Set up an endpoint. On failure, undoes what it made and reports both errors if undoing fails.
pub fn attach(ctx: &mut Ctx, spec: &EndpointSpec) -> Result<Endpoint> {
    validate_name("container", spec.name)?;
    let ip = spec.ip.map(|s| network::parse_ip("--ip", s)).transpose()?;
    precheck(ctx, spec, ip)?;
    publish::precheck(ctx, &spec.mode, spec.ports)?;
    let net = match &spec.mode {
        Mode::Bridge(n) => Some(network::resolve(ctx, n)?),
        _ if ip.is_some() => {
            return Err(Error::input(
                "--ip needs a bridge network: drop --ip or use --network NETWORK",
            ));
        }
        _ => None,
    };
    let (netns_path, netns_id) = match &spec.netns {
        Netns::Create => (Some(ctx.netns_path(spec.name)), None),
        Netns::Existing(p) => {
            netns::open(p)?;
            (Some(p.clone()), netns::identity(p))
        }
        Netns::Host => (None, None),
    };
    let path_str = netns_path
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let new = NewEndpoint {
        name: spec.name,
        mode: &spec.mode,
        netns: path_str.as_deref(),
        netns_owned: matches!(spec.netns, Netns::Create),
        netns_id,
        owner: proc::me(),
    };
    let ep = ctx.store.write(|tx| {
        if endpoints::get(tx, spec.name)?.is_some() {
            return Err(name_taken(spec.name));
        }
        let mut ep = endpoints::insert(tx, &new)?;
        crate::store::labels::add(tx, ep.id, spec.labels)?;
        if let Some(net) = &net {
            let chosen = allocate(tx, net, ip)?;
            endpoints::add_lease(tx, net.id, ep.id, chosen)?;
            ep.ip = Some(chosen);
            publish::reserve(tx, net, &ep, spec.ports)?;
        }
        Ok(ep)
    })?;
    fault::step("attach", 1);
    match realize(ctx, &ep, net.as_ref(), spec.ports) {
        Ok(()) => Ok(ep),
        Err(e) => Err(match detach::teardown(ctx, &ep) {
            Ok(()) => e,
            Err(u) => e.undo_failed(u),
        }),
    }
}

/// Refuse bad input before anything is made — in particular before the default network is
/// created on first use. The same checks run again inside the allocation transaction, which is
/// what makes them race-free; this pass only keeps a refused command from leaving a bridge.
fn precheck(ctx: &mut Ctx, spec: &EndpointSpec, ip: Option<Ipv4Addr>) -> Result<()> {
    if ctx.store.endpoint(spec.name)?.is_some() {
        return Err(name_taken(spec.name));
    }
    if let (Mode::Bridge(n), Some(ip)) = (&spec.mode, ip) {
        match ctx.store.network(n)? {
            Some(net) => {
                ipam::check_requested("--ip", &net.subnet, ip)?;
                if ip == net.gateway {
                    return Err(Error::input(format!(
                        "--ip {ip} is the gateway of network '{n}': pick another address"
                    )));
                }
            }
            None => {
                if let Some(subnet) = network::default_subnet_if_created(ctx, n)? {
                    ipam::check_requested("--ip", &subnet, ip)?;
                    if ip == ipam::first_host(&subnet) {
                        return Err(Error::input(format!(
                            "--ip {ip} would be the gateway of network '{n}': pick another address"
                        )));
                    }
                }
            }
        }
    }
    if let Netns::Existing(p) = &spec.netns {
        netns::open(p)?;
    }
    Ok(())
}

fn name_taken(name: &str) -> Error {
    Error::input(format!("container name '{name}' is already in use: choose another --name or remove it (`podnet rm -f {name}`)"))
}

/// Pick the endpoint's address: the requested one if free, else the next free after the hint.
fn allocate(
    tx: &rusqlite::Transaction,
    net: &Network,
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    use crate::store::networks;
    if let Some(ip) = requested {
        ipam::check_requested("--ip", &net.subnet, ip)?;
        if ip == net.gateway {
            return Err(Error::input(format!(
                "--ip {ip} is the gateway of network '{}': pick another address",
                net.name
            )));
        }
        if endpoints::lease_taken(tx, net.id, ip)? {
            return Err(Error::input(format!(
                "--ip {ip} is already taken on network '{}': pick another address or omit --ip",
                net.name
            )));
        }
        return Ok(ip);
    }
    let hint = networks::next_ip(tx, net.id)?;
    let ip = ipam::next_free(&net.subnet, net.gateway, hint, |c| {
        endpoints::lease_taken(tx, net.id, c)
    })?;
    networks::set_next_ip(tx, net.id, Ipv4Addr::from(u32::from(ip).wrapping_add(1)))?;
    Ok(ip)
}

/// Kernel work of an endpoint, in numbered steps.
fn realize(
    ctx: &mut Ctx,
    ep: &Endpoint,
    net: Option<&Network>,
    ports: &[PortMapping],
) -> Result<()> {
    let Some(path) = ep.netns.as_deref().map(PathBuf::from) else {
        return Ok(()); // host mode: nothing to make
    };
    if ep.netns_owned {
        netns::create(&path)?;
    }
    fault::step("attach", 2);
    let ns = File::open(&path)
        .map_err(|e| Error::failed(format!("open namespace {}: {e}", path.display())))?;
    if let Some(net) = net {
        let bridge = link::get(ctx.host()?, &net.bridge)?.ok_or_else(|| {
            Error::failed(format!(
                "bridge {} of network '{}' is missing: run `podnet gc`",
                net.bridge, net.name
            ))
        })?;
        let veth = ep
            .host_veth
            .as_deref()
            .expect("bridge endpoints have a veth name");
        link::create_veth(
            ctx.host()?,
            veth,
            Some(bridge.index),
            net.mtu,
            "eth0",
            ns.as_fd(),
        )?;
        // Hairpin: a container reaching its own published port or its own service's VIP is
        // sent back out the port it came in on (bridged, with br_netfilter).
        link::no_ipv6_link_local(ctx.host()?, veth)?;
        link::set_up_by_name(ctx.host()?, veth)?;
        link::set_hairpin(ctx.host()?, veth)?;
    }
    fault::step("attach", 3);
    if matches!(ep.mode, Mode::Container(_)) {
        return Ok(()); // the shared namespace is already set up by its owner
    }
    let mut inside: Rtnl = netns::rtnl_in(&ns)?;
    link::set_up_by_name(&mut inside, "lo")?;
    if let (Some(net), Some(ip)) = (net, ep.ip) {
        let eth0 = link::get(&mut inside, "eth0")?
            .ok_or_else(|| Error::failed("eth0 missing in the container namespace"))?;
        addr::add(&mut inside, eth0.index, ip, net.subnet.prefix_len())?;
        fault::step("attach", 4);
        link::no_ipv6_link_local(&mut inside, "eth0")?;
        link::set_up(&mut inside, eth0.index)?;
        route::add_default(&mut inside, net.gateway)?;
    }
    publish::publish(ctx, ep, ports)?;
    if net.is_some() {
        // Docker may have set `iptables -P FORWARD DROP` since the network was made; one
        // GETCHAIN round trip tells, and only then are podnet's accept rules (re)placed.
        super::firewall::forward_accepts(ctx)?;
    }
    fault::step("attach", 5);
    Ok(())
}

/// Mark an endpoint ready (last step of attach).
pub fn mark_ready(ctx: &mut Ctx, ep: &Endpoint, keep_owner: bool) -> Result<()> {
    ctx.store
        .write(|tx| endpoints::set_ready(tx, ep.id, keep_owner))?;
    fault::step("attach", 6);
    let labels = ctx.store.labels_of(ep.id)?;
    super::service::container_changed_or_warn(ctx, &ep.name, &labels);
    Ok(())
}
