//! Setting an endpoint up: record, namespace, veth, addresses, routes — each a numbered step
//! (the fault switch's `attach:K`), so that a crash between any two is repaired by `gc`.

use super::{detach, network, owner, proc, publish, Ctx};
use crate::fault;
use crate::ipam;
use crate::kernel::{addr, link, netns, route, Rtnl};
use crate::model::field::{IP, IP6, NAME, NETNS, NETWORK};
use crate::model::{
    cli_hint, validate_name, Endpoint, EndpointState, Error, Labels, Mac, Mode, Network,
    PortMapping, PortRequest, Result,
};
use crate::store::{NewEndpoint, Writes};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address asked for (`--ip6`); needs a dual-stack network.
    pub ip6: Option<Ipv6Addr>,
    /// Ports to publish (`-p`, `-P`), one per container port; host ports not given are
    /// chosen in the allocation transaction.
    pub ports: &'a [PortRequest],
    /// Labels (`--label`), what service selectors match.
    pub labels: &'a Labels,
    /// Keep the calling process as the endpoint's owner once ready (a foreground `run`: when
    /// this process is gone, the endpoint is garbage).
    pub owned_by_caller: bool,
    /// The interface's name inside the namespace; None: `eth0`.
    pub ifname: Option<&'a str>,
    /// The MAC the interface gets; None: the one derived from its address.
    pub mac: Option<Mac>,
    /// A container runtime's record of the attachment (bridge networks only), written in the
    /// transaction that inserts the endpoint.
    pub runtime: Option<&'a crate::store::RuntimeRecord>,
    /// This endpoint is a later network of the container with this endpoint id (`network
    /// connect`, `run --network a --network b`): in its namespace as the next free `ethN`,
    /// with its subnet's route only (the default route stays on the first network).
    pub member_of: Option<i64>,
    /// Names of this endpoint on its network (`--network-alias`), checked already.
    pub aliases: &'a [String],
    /// The addresses (`ip`, `ip6`) were given by a runtime's IPAM plugin (CNI delegated
    /// `ipam`): see `runtime::ipam_owner`.
    pub delegated: bool,
}

/// Set up an endpoint. On failure, undoes what it made and reports both errors if undoing fails.
pub fn attach(ctx: &mut Ctx, spec: &EndpointSpec) -> Result<Endpoint> {
    // A member's name is its container's with `:NETWORK`, which no container name can be.
    if spec.member_of.is_none() {
        validate_name("container", spec.name)?;
    }
    let ip = spec.ip;
    precheck(ctx, spec, ip)?;
    publish::precheck(ctx, &spec.mode, spec.ports)?;
    let net = match &spec.mode {
        Mode::Bridge(n) => Some(network::resolve(ctx, n)?),
        _ if ip.is_some() => {
            return Err(Error::input(format!(
                "{IP} needs a bridge network: drop {IP} or use {NETWORK} NETWORK"
            )));
        }
        _ if spec.ip6.is_some() => {
            return Err(Error::input(format!(
                "{IP6} needs a dual-stack bridge network: drop {IP6} or use {NETWORK} NETWORK (made with `podnet network create NAME --ipv6`)"
            )));
        }
        _ => None,
    };
    // A macvlan network never hands out the host's own address on its parent.
    let host_addrs = match &net {
        Some(n) if !n.is_bridge() => network::macvlan::host_addrs(ctx, n)?,
        _ => Vec::new(),
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
        ifname: spec.ifname,
        veth: net.as_ref().is_none_or(Network::is_bridge),
    };
    let shares = matches!(spec.mode, Mode::Container(_));
    let (ep, published) = ctx.store.write(|tx| {
        if tx.endpoint(spec.name)?.is_some() {
            return Err(name_taken(spec.name));
        }
        // A namespace podnet already manages under another name (only `container:NAME` joins
        // one on purpose): a second eth0 would collide and either teardown break the other.
        // A runtime attaches one namespace to several networks under different interface
        // names (its own key is unique per network: see `store::api::RuntimeRecord`).
        if let (Some(id), false, None, None) = (netns_id, shares, spec.runtime, spec.member_of) {
            if let Some(other) = tx.using_netns(id)? {
                return Err(Error::input(format!(
                    "{NETNS} {} is already the namespace of container '{other}': attach a namespace podnet does not manage yet, or use `podnet run {NETWORK} container:{other}`",
                    path_str.as_deref().unwrap_or("?")
                )));
            }
        }
        // The namespace joined must still be there to join: `rm` checks for joiners in its
        // own transaction, so one of the two always sees the other.
        if let Mode::Container(other) = &spec.mode {
            if !tx.endpoint(other)?.is_some_and(|o| o.state == EndpointState::Ready) {
                return Err(Error::input(format!(
                    "{NETWORK} container:{other}: '{other}' is not running: start it first"
                )));
            }
        }
        let member_ifname = match (spec.member_of, &net) {
            (Some(c), Some(net)) => Some(super::container::member_check(tx, c, net)?),
            _ => None,
        };
        let new = NewEndpoint {
            ifname: member_ifname.as_deref().or(new.ifname),
            ..new
        };
        let mut ep = tx.insert_endpoint(&new)?;
        tx.add_labels(ep.id, spec.labels)?;
        if let (Some(container_id), Some(ifname), Some(net)) =
            (spec.member_of, &member_ifname, &net)
        {
            tx.insert_member(&crate::store::Member {
                endpoint_id: ep.id,
                container_id,
                network_id: net.id,
                ifname: ifname.clone(),
            })?;
        }
        if !spec.aliases.is_empty() {
            tx.add_aliases(ep.id, spec.aliases)?;
        }
        let mut published = Vec::new();
        if let Some(net) = &net {
            // Judged again on the row as it is now: a network being removed takes no one.
            let now = tx.network(&net.name)?.filter(|n| {
                n.id == net.id && n.state != crate::model::NetworkState::Removing
            });
            let Some(now) = now else {
                return Err(Error::input(format!(
                    "network '{}' was removed meanwhile{}",
                    net.name,
                    cli_hint(": see `podnet network ls`")
                )));
            };
            super::runtime::ipam_owner::admit(tx, &now, spec.delegated, spec.runtime.is_some())?;
            let chosen = match &net.macvlan {
                Some(m) => network::macvlan::allocate(tx, net, m, ip, &host_addrs)?,
                None => allocate(tx, net, ip)?,
            };
            tx.add_lease(net.id, ep.id, chosen.into())?;
            ep.ip = Some(chosen);
            if let Some(ip6) = allocate6(tx, net, spec.ip6)? {
                tx.add_lease(net.id, ep.id, ip6.into())?;
                ep.ip6 = Some(ip6);
            }
            let mac = spec.mac.unwrap_or_else(|| Mac::for_container(chosen));
            tx.set_mac(ep.id, mac)?;
            ep.mac = Some(mac);
            published = publish::reserve(tx, net, &ep, spec.ports)?;
            if let Some(rec) = spec.runtime {
                tx.insert_runtime(ep.id, net.id, rec)?;
            }
        }
        Ok((ep, published))
    })?;
    fault::step("attach", 1);
    match realize(ctx, &ep, net.as_ref(), &published, spec.member_of.is_none()) {
        Ok(()) => Ok(ep),
        Err(e) => Err(match detach::undo_own(ctx, ep.id) {
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
    if let Mode::Bridge(n) = &spec.mode {
        if let Some(net) = ctx.store.network(n)?.filter(|n| !n.is_bridge()) {
            if !spec.ports.is_empty() {
                return Err(network::macvlan::refuse_ports(&net, ip));
            }
        }
    }
    if let (Mode::Bridge(n), Some(ip)) = (&spec.mode, ip) {
        match ctx.store.network(n)? {
            Some(net) => {
                ipam::check_requested(IP, &net.subnet, ip)?;
                if ip == net.gateway {
                    return Err(Error::input(format!(
                        "{IP} {ip} is the gateway of network '{n}': pick another address"
                    )));
                }
            }
            None => {
                if let Some(subnet) = network::default_subnet_if_created(ctx, n)? {
                    ipam::check_requested(IP, &subnet, ip)?;
                    if ip == ipam::first_host(&subnet) {
                        return Err(Error::input(format!(
                            "{IP} {ip} would be the gateway of network '{n}': pick another address"
                        )));
                    }
                }
            }
        }
    }
    if let (Mode::Bridge(n), Some(ip6)) = (&spec.mode, spec.ip6) {
        match ctx.store.network(n)? {
            Some(net) => check_ip6(&net, ip6)?,
            // The default network is IPv4-only: `--ip6` there is refused before it is made.
            None if n == super::DEFAULT_NETWORK => {
                return Err(Error::input(format!(
                    "{IP6} needs IPv6 on network '{n}', which is IPv4-only: drop {IP6} or use a network made with `podnet network create NAME --ipv6`"
                )))
            }
            None => {}
        }
    }
    match &spec.netns {
        Netns::Existing(p) => {
            netns::open(p)?;
            refuse_host_netns(p)?;
        }
        // podnet mounts the namespace in its run dir: the run dir must be this store's.
        Netns::Create => owner::run_dir::claim(ctx)?,
        Netns::Host => {}
    }
    Ok(())
}

/// `attach --netns` of the host's own namespace would put `eth0` and a default route on the
/// host (and `detach` would leave them): refused, by namespace identity, whatever the path.
fn refuse_host_netns(p: &std::path::Path) -> Result<()> {
    let id = netns::identity(p);
    let host = ["/proc/self/ns/net", "/proc/1/ns/net"]
        .iter()
        .any(|h| id.is_some() && netns::identity(std::path::Path::new(h)) == id);
    if host {
        return Err(Error::input(format!(
            "{NETNS} {} is the host's own network namespace: podnet wires container namespaces only (e.g. /run/netns/NAME or /proc/PID/ns/net of a containerised process)",
            p.display()
        )));
    }
    Ok(())
}

fn name_taken(name: &str) -> Error {
    Error::input(format!(
        "container name '{name}' is already in use: choose another {NAME} or remove it{}",
        cli_hint(&format!(" (`podnet rm -f {name}`)"))
    ))
}

/// Pick the endpoint's address: the requested one if free, else the next free after the hint.
fn allocate(tx: &dyn Writes, net: &Network, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    if let Some(ip) = requested {
        ipam::check_requested(IP, &net.subnet, ip)?;
        if ip == net.gateway {
            return Err(Error::input(format!(
                "{IP} {ip} is the gateway of network '{}': pick another address",
                net.name
            )));
        }
        if tx.lease_taken(net.id, ip.into())? {
            return Err(Error::input(format!(
                "{IP} {ip} is already taken on network '{}': pick another address or omit {IP}",
                net.name
            )));
        }
        return Ok(ip);
    }
    // IPAM is IPv4 for now: a hint of another family is no hint.
    let hint = tx.next_ip(net.id)?.and_then(|h| match h {
        IpAddr::V4(h) => Some(h),
        IpAddr::V6(_) => None,
    });
    let ip = ipam::next_free(&net.subnet, net.gateway, hint, |c| {
        tx.lease_taken(net.id, c.into())
    })?;
    let after = Ipv4Addr::from(u32::from(ip).wrapping_add(1));
    tx.set_next_ip(net.id, after.into())?;
    Ok(ip)
}

/// Pick the endpoint's IPv6 address on a dual-stack network (None on an IPv4-only one, which
/// refuses `--ip6`): the requested one if free, else the next free after the IPv6 hint.
fn allocate6(
    tx: &dyn Writes,
    net: &Network,
    requested: Option<Ipv6Addr>,
) -> Result<Option<Ipv6Addr>> {
    let (Some(subnet6), Some(gateway6)) = (net.subnet6, net.gateway6) else {
        return match requested {
            Some(_) => Err(no_ipv6(net)),
            None => Ok(None),
        };
    };
    if let Some(ip) = requested {
        check_ip6(net, ip)?;
        if tx.lease_taken(net.id, ip.into())? {
            return Err(Error::input(format!(
                "{IP6} {ip} is already taken on network '{}': pick another address or omit {IP6}",
                net.name
            )));
        }
        return Ok(Some(ip));
    }
    let hint = tx.next_ip6(net.id)?;
    let ip = ipam::next_free6(&subnet6, gateway6, hint, |c| {
        tx.lease_taken(net.id, c.into())
    })?;
    let after = Ipv6Addr::from(u128::from(ip).wrapping_add(1));
    tx.set_next_ip6(net.id, after)?;
    Ok(Some(ip))
}

fn no_ipv6(net: &Network) -> Error {
    // The command is the CLI's only: a runtime's user (CNI, netavark) names a dual-stack
    // network in the runtime's own configuration.
    Error::input(format!(
        "{IP6} needs IPv6 on network '{}', which is IPv4-only: drop {IP6} or use a dual-stack network{}",
        net.name,
        cli_hint(" (made with `podnet network create NAME --ipv6`)")
    ))
}

/// A requested IPv6 address is a host of the network's IPv6 subnet and not its gateway.
fn check_ip6(net: &Network, ip: Ipv6Addr) -> Result<()> {
    let (Some(subnet6), Some(gateway6)) = (net.subnet6, net.gateway6) else {
        return Err(no_ipv6(net));
    };
    ipam::check_requested6(IP6, &subnet6, ip)?;
    if ip == gateway6 {
        return Err(Error::input(format!(
            "{IP6} {ip} is the IPv6 gateway of network '{}': pick another address",
            net.name
        )));
    }
    Ok(())
}

/// Kernel work of an endpoint, in numbered steps.
fn realize(
    ctx: &mut Ctx,
    ep: &Endpoint,
    net: Option<&Network>,
    ports: &[PortMapping],
    default_route: bool,
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
    if let Some(net) = net.filter(|n| !n.is_bridge()) {
        // A macvlan child of the parent, born inside the namespace under its final name.
        network::macvlan::make_child(ctx, net, &ns, ep)?;
    } else if let Some(net) = net {
        // A bridge the kernel lost (deleted from outside, or gone with a reboot) is made
        // again from its record: a missing bridge costs nothing on the normal path. Never a
        // port on another state's bridge (the lookup reads its mark anyway).
        // A context kept between calls knows the index already; the kernel refuses a stale
        // one (the bridge was made again since) and then it is looked up as usual.
        let known = network::known_bridge_index(ctx, net);
        let bridge = match known {
            Some(index) => index,
            None => network::bridge_index(ctx, net)?,
        };
        let veth = ep
            .host_veth
            .as_deref()
            .expect("bridge endpoints have a veth name");
        // eth0's MAC is recorded already, so its anti-spoofing elements are known: they (and
        // the published ports) go in before the veth exists, which so never sends an
        // unchecked frame. (Elements name the port; it need not exist yet.)
        publish::publish(ctx, ep, ports)?;
        let alias = owner::Identity::of(ctx).link_alias();
        if let Err(e) = create_port(ctx.host()?, veth, net, bridge, &ns, ep) {
            if known.is_none() {
                return Err(e);
            }
            network::forget_bridge_index(ctx, net);
            let bridge = network::bridge_index(ctx, net)?;
            create_port(ctx.host()?, veth, net, bridge, &ns, ep)?;
        }
        finish_port(ctx.host()?, veth, net, &alias)?;
    }
    fault::step("attach", 3);
    if matches!(ep.mode, Mode::Container(_)) {
        return Ok(()); // the shared namespace is already set up by its owner
    }
    let mut inside: Rtnl = netns::rtnl_in(&ns)?;
    link::set_up_by_name(&mut inside, "lo")?;
    if let (Some(net), Some(ip)) = (net, ep.ip) {
        configure_eth0(&mut inside, net, ip, ep.ip6, ep.ifname(), default_route)?;
    }
    if net.is_some_and(Network::is_bridge) {
        // Docker may have set `iptables -P FORWARD DROP` since the network was made; one
        // GETCHAIN round trip tells, and only then are podnet's accept rules (re)placed.
        super::firewall::forward_accepts(ctx)?;
    }
    fault::step("attach", 5);
    Ok(())
}

/// The veth of a bridge endpoint: `veth` here on the bridge, up, with hairpin, marked with
/// `alias` (this store's); its peer created directly inside `ns` as the endpoint's interface
/// (`eth0` unless a runtime named it), with the MAC recorded for it (the only one its port
/// lets through; none for endpoints recorded before anti-spoofing).
pub(super) fn make_veth(
    host: &mut Rtnl,
    veth: &str,
    net: &Network,
    bridge: u32,
    ns: &File,
    alias: &str,
    ep: &Endpoint,
) -> Result<()> {
    create_port(host, veth, net, bridge, ns, ep)?;
    finish_port(host, veth, net, alias)
}

/// The veth pair itself, its host end on `bridge` (one message: nothing is made if refused).
fn create_port(
    host: &mut Rtnl,
    veth: &str,
    net: &Network,
    bridge: u32,
    ns: &File,
    ep: &Endpoint,
) -> Result<()> {
    let mtu = net.mtu;
    let mac = ep.mac.map(|m| m.0);
    let ifname = ep.ifname();
    link::create_veth(host, veth, Some(bridge), mtu, ifname, ns.as_fd(), mac).map_err(|e| {
        // The host end's name is this endpoint's own: a name taken is the one inside (a
        // runtime naming an interface its namespace already has).
        match e {
            Error::Kernel { errno, .. } if errno == libc::EEXIST => Error::field(
                "ifname",
                format!("interface {ifname} already exists in the container's namespace: give another interface name"),
            ),
            e => e,
        }
    })
}

/// The host end's settings once it exists: mark, group, no IPv6 link-local, up, hairpin.
fn finish_port(host: &mut Rtnl, veth: &str, net: &Network, alias: &str) -> Result<()> {
    // Hairpin: a container reaching its own published port or its own service's VIP is
    // sent back out the port it came in on (bridged, with br_netfilter).
    // The host end is marked as this store's in the message that is sent anyway, and on a
    // dual-stack `--icc=false` network put in the group whose bridged IPv6 the bridge table
    // drops (link-local between two ports passes no inet hook: `plan::netfilter::rules::bridge`).
    let noicc6 = !net.icc && net.subnet6.is_some();
    let group = noicc6.then_some(crate::plan::netfilter::rules::NOICC_PORT_GROUP);
    link::no_ipv6_link_local(host, veth, Some(alias), group)?;
    link::set_up_hairpin(host, veth)
}

/// Inside the container's namespace: its interface (`eth0`, or the runtime's `ifname`) gets
/// its address (and its IPv6 one on a dual-stack network, without DAD: usable at once),
/// comes up, and the gateway (each family's) becomes the default route — unless this is a
/// container's later network (`default_route` false), which has only its subnet's route (the
/// kernel's, from the address).
pub(super) fn configure_eth0(
    inside: &mut Rtnl,
    net: &Network,
    ip: Ipv4Addr,
    ip6: Option<Ipv6Addr>,
    ifname: &str,
    default_route: bool,
) -> Result<()> {
    let eth0 = link::get(inside, ifname)?
        .ok_or_else(|| Error::failed(format!("{ifname} missing in the container namespace")))?;
    addr::add(inside, eth0.index, ip, net.subnet.prefix_len())?;
    fault::step("attach", 4);
    link::no_ipv6_link_local(inside, ifname, None, None)?;
    let v6 = match (ip6, net.subnet6, net.gateway6) {
        (Some(ip6), Some(s6), Some(g6)) => {
            addr::add6(inside, eth0.index, ip6, s6.prefix_len())?;
            Some(g6)
        }
        _ => None,
    };
    if net.is_bridge() {
        link::set_up(inside, eth0.index)?;
    } else {
        network::macvlan::bring_up_child(inside, eth0.index, net)?;
    }
    if !default_route {
        return Ok(());
    }
    route::add_default(inside, net.gateway)?;
    match v6 {
        Some(g6) => route::add_default(inside, g6),
        None => Ok(()),
    }
}

/// Mark an endpoint ready (last step of attach). False: the row is no longer this process's
/// to finish (a `rm -f` or `gc` took it over, and tears it down).
pub fn mark_ready(ctx: &mut Ctx, ep: &Endpoint, keep_owner: bool) -> Result<bool> {
    let me = proc::me();
    if !ctx
        .store
        .write(|tx| tx.set_endpoint_ready(ep.id, keep_owner, me))?
    {
        return Ok(false);
    }
    fault::step("attach", 6);
    let labels = ctx.store.labels_of(ep.id)?;
    super::service::container_changed_or_warn(ctx, &ep.name, &labels);
    if super::names::serves(ctx, ep)? {
        let container = super::names::container_of(ctx, ep)?;
        super::names::joined(ctx, container);
    }
    Ok(true)
}

/// The error of an operation whose record was taken over while it was still being made.
pub fn taken_over(name: &str) -> Error {
    Error::failed(format!(
        "container '{name}' was removed{} while it was being created",
        cli_hint(" (by `podnet rm -f` or `podnet gc`)")
    ))
}
