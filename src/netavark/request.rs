//! From arguments and stdin to one typed call, and Podman's network onto podnet's.
//!
//! Podman network → podnet network: `network_interface` is the bridge; `subnets` holds at
//! most one IPv4 subnet with its gateway and at most one IPv6 subnet (its gateway, if given,
//! the subnet's first address, podnet's), IPv6 alone refused; `ipv6_enabled` (or an IPv6
//! subnet) asks for a dual-stack network; `internal` as is; options `mtu`, `icc`
//! (true/false), `isolate` (true or strict only: podnet always isolates networks from each
//! other), `root` and `run_dir` (podnet's directories, as the CNI keys `root`/`runDir`);
//! any other option is refused, as Podman's bridge driver refuses options it does not
//! know. `ipam_options.driver` may be unset, `host-local`
//! (a network made without podnet's `create`: Podman then hands the address it allocated
//! in `static_ips`, which podnet takes as a request) or `none` (what podnet's `create`
//! writes, so that Podman leaves allocation to podnet).

use ipnet::{IpNet, Ipv4Net};
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::path::PathBuf;

use super::types::{Network, PluginExec, PortMapping as NvPort};
use crate::cni::NetworkParams;
use crate::model::{Mac, PortMapping, Proto};

/// One plugin call, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Info,
    Create(CreateRequest),
    Setup(SetupRequest),
    Teardown(SetupRequest),
}

/// A Podman network mapped onto podnet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// Podman's network name (the wiring maps it to a podnet network).
    pub name: String,
    /// Podman's 64-hex network ID.
    pub id: String,
    pub params: NetworkParams,
    /// Whether the `icc` option was given (an existing network is then held to it).
    pub icc_given: bool,
    pub root: Option<PathBuf>,
    pub run_dir: Option<PathBuf>,
}

/// `create`: check the network and complete it (see `reply::created`).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub spec: NetworkSpec,
    /// The network as received, to be given back completed.
    pub network: Network,
}

/// `setup NETNS` / `teardown NETNS`. teardown goes past input setup would refuse (see
/// `ignored`), so that a container whose setup failed can still be torn down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupRequest {
    pub netns: PathBuf,
    pub container_id: String,
    pub container_name: String,
    pub network: NetworkSpec,
    /// The interface to make in the container.
    pub ifname: String,
    /// Addresses asked for (`--ip`/`--ip6`, or what Podman's own IPAM chose for a host-local
    /// network): at most one per family (checked with the network).
    pub static_ips: Vec<IpAddr>,
    pub static_mac: Option<Mac>,
    pub aliases: Vec<String>,
    /// One mapping per port and protocol (ranges expanded).
    pub ports: Vec<PortMapping>,
    /// teardown only: what setup would have refused and teardown goes past (for stderr).
    pub ignored: Vec<String>,
}

/// Parse the call: `args` are the arguments after the program name.
pub fn parse(args: &[String], stdin: &[u8]) -> Result<Call, String> {
    let sub = args.first().map(String::as_str).unwrap_or("info");
    let netns = || -> Result<PathBuf, String> {
        match args.get(1) {
            Some(p) if p.starts_with('/') => Ok(PathBuf::from(p)),
            Some(p) => Err(format!(
                "{sub}: network namespace path {p:?} is not absolute"
            )),
            None => Err(format!(
                "{sub}: the network namespace path argument is missing"
            )),
        }
    };
    let max = if matches!(sub, "setup" | "teardown") {
        2
    } else {
        1
    };
    if let Some(extra) = args.get(max) {
        return Err(format!("{sub}: unexpected argument {extra:?}"));
    }
    match sub {
        "info" => Ok(Call::Info),
        "create" => {
            let network: Network = json(stdin, "network")?;
            if network.ipam_options.as_ref().and_then(|o| o.get("driver")).map(String::as_str)
                == Some("none")
            {
                return Err(format!(
                    "network {}: podnet allocates addresses itself: leave the IPAM driver unset",
                    network.name
                ));
            }
            let spec = spec(&network)?;
            Ok(Call::Create(CreateRequest { spec, network }))
        }
        "setup" | "teardown" => {
            let netns = netns()?;
            let exec: PluginExec = json(stdin, "setup input")?;
            if sub == "setup" {
                return Ok(Call::Setup(setup(netns, exec)?));
            }
            // Podman tears down after a refused setup with the same input: go past what
            // teardown does not need to find the container's attachment.
            match setup(netns.clone(), exec.clone()) {
                Ok(req) => Ok(Call::Teardown(req)),
                Err(refused) => Ok(Call::Teardown(lenient_teardown(netns, exec, refused))),
            }
        }
        other => Err(format!(
            "unknown subcommand {other:?}: the netavark plugin API has info, create, setup and teardown"
        )),
    }
}

fn json<T: DeserializeOwned>(stdin: &[u8], what: &str) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(stdin);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("{what} on stdin: {}", e.inner())
        } else {
            format!("{what} on stdin: {path}: {}", e.inner())
        }
    })
}

/// Map a Podman network onto podnet's; the error names the field.
pub fn spec(n: &Network) -> Result<NetworkSpec, String> {
    let at = |what: String| format!("network {}: {what}", n.name);
    match n
        .ipam_options
        .as_ref()
        .and_then(|o| o.get("driver"))
        .map(String::as_str)
    {
        None | Some("") | Some("host-local") | Some("none") => {}
        Some(d) => {
            return Err(at(format!(
                "IPAM driver {d:?} is not podnet's: leave the IPAM driver unset"
            )))
        }
    }
    let subnets = n.subnets.as_deref().unwrap_or_default();
    for s in subnets {
        if s.lease_range
            .as_ref()
            .is_some_and(|r| r.start_ip.is_some() || r.end_ip.is_some())
        {
            return Err(at(format!(
                "subnet {}: podnet allocates from the whole subnet: remove the lease range",
                s.subnet
            )));
        }
    }
    let (v4, v6): (Vec<_>, Vec<_>) = subnets.iter().partition(|s| s.subnet.addr().is_ipv4());
    if v4.len() > 1 || v6.len() > 1 {
        return Err(at(
            "a podnet network has one subnet per family: give one IPv4 subnet and at most one IPv6 subnet".into()
        ));
    }
    if v4.is_empty() && !v6.is_empty() {
        return Err(at(format!(
            "subnet {}: IPv6-only networks are not supported, a podnet network always has IPv4: add an IPv4 subnet (or none with ipv6_enabled, to get both picked)",
            v6[0].subnet
        )));
    }
    let (subnet, gateway) = match v4.first() {
        None => (None, None),
        Some(s) => {
            let IpNet::V4(net) = s.subnet else {
                unreachable!("partitioned as IPv4")
            };
            let net = Ipv4Net::new(net.network(), net.prefix_len()).unwrap_or(net);
            let gw = match s.gateway {
                None => None,
                Some(IpAddr::V4(g)) => Some(g),
                Some(IpAddr::V6(g)) => {
                    return Err(at(format!("subnet {net}: gateway {g} is not IPv4")))
                }
            };
            (Some(net), gw)
        }
    };
    let subnet6 = match v6.first() {
        None => None,
        Some(s) => {
            let IpNet::V6(net) = s.subnet else {
                unreachable!("partitioned as IPv6")
            };
            let net = crate::model::inet6::check_shape6("subnet", &net.trunc())
                .map(|()| net.trunc())
                .map_err(|e| at(e.to_string()))?;
            // podnet's IPv6 gateway is the subnet's first host, as Podman's default.
            let gw6 = crate::ipam::first_host6(&net);
            match s.gateway {
                None => {}
                Some(IpAddr::V6(g)) if g == gw6 => {}
                Some(g) => {
                    return Err(at(format!(
                        "subnet {net}: gateway {g} is not podnet's IPv6 gateway {gw6} (the subnet's first address): set {gw6} or leave the gateway out"
                    )))
                }
            }
            Some(net)
        }
    };
    let bridge = n.network_interface.clone().filter(|b| !b.is_empty());
    if let Some(b) = &bridge {
        crate::model::validate_ifname("bridge", b).map_err(|e| at(e.to_string()))?;
    }
    let mut params = NetworkParams {
        subnet,
        gateway,
        bridge,
        mtu: None,
        internal: n.internal,
        icc: true,
        // Podman always says whether the network has IPv6: an existing podnet network must agree.
        ipv6: Some(n.ipv6_enabled || subnet6.is_some()),
        subnet6,
        nat6: None,
        macvlan: None,
    };
    let (mut root, mut run_dir) = (None, None);
    // A macvlan network: option `driver=macvlan` (netavark's own macvlan driver's name), with
    // the parent as `network_interface` (as netavark's) or option `parent`.
    let mut mv = MacvlanOpts::default();
    for (k, v) in n.options.iter().flatten() {
        let bad = |why: &str| at(format!("option {k}={v}: {why}"));
        match k.as_str() {
            "mtu" => match v.parse::<u32>() {
                Ok(m) if (68..=65535).contains(&m) => params.mtu = Some(m),
                _ => return Err(bad("use an MTU of 68 to 65535")),
            },
            "icc" => params.icc = boolean(v).ok_or_else(|| bad("use true or false"))?,
            "isolate" => match v.as_str() {
                "true" | "1" | "strict" => {}
                _ => return Err(bad("podnet always isolates networks from each other")),
            },
            "driver" => match v.as_str() {
                "macvlan" => mv.on = true,
                "bridge" => {}
                _ => return Err(bad("podnet's drivers are bridge and macvlan")),
            },
            "parent" => mv.parent = Some(v.clone()),
            "mode" => {
                mv.mode = Some(
                    crate::model::MacvlanMode::parse("mode", v).map_err(|e| bad(&e.to_string()))?,
                )
            }
            "ip_range" => {
                mv.range = Some(crate::model::parse_cidr("ip_range", v).map_err(|e| bad(&e.to_string()))?)
            }
            "host_access" => mv.host_access = boolean(v).ok_or_else(|| bad("use true or false"))?,
            "root" | "run_dir" => {
                if !v.starts_with('/') {
                    return Err(bad("give an absolute path"));
                }
                *(if k == "root" { &mut root } else { &mut run_dir }) = Some(PathBuf::from(v));
            }
            _ => {
                return Err(at(format!(
                    "option {k} is not podnet's: podnet knows mtu, icc, isolate, root, run_dir, driver, parent, mode, ip_range and host_access"
                )))
            }
        }
    }
    if mv.on {
        let interface = params.bridge.take();
        let parent = mv.parent.or(interface).ok_or_else(|| {
            at("a macvlan network needs its parent: set network_interface (or option parent) to the host interface on the LAN".into())
        })?;
        params.macvlan = Some(crate::engine::network::MacvlanRequest {
            parent,
            mode: mv.mode.unwrap_or_default(),
            ip_range: mv.range,
            host_access: mv.host_access,
        });
    } else if mv.parent.is_some() || mv.mode.is_some() || mv.range.is_some() || mv.host_access {
        return Err(at(
            "options parent, mode, ip_range and host_access are for macvlan networks: add option driver=macvlan".into(),
        ));
    }
    Ok(NetworkSpec {
        name: n.name.clone(),
        id: n.id.clone(),
        icc_given: n.options.iter().flatten().any(|(k, _)| k == "icc"),
        params,
        root,
        run_dir,
    })
}

/// The macvlan options of a network, as read.
#[derive(Default)]
struct MacvlanOpts {
    on: bool,
    parent: Option<String>,
    mode: Option<crate::model::MacvlanMode>,
    range: Option<ipnet::Ipv4Net>,
    host_access: bool,
}

fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn setup(netns: PathBuf, x: PluginExec) -> Result<SetupRequest, String> {
    let network = spec(&x.network)?;
    let o = &x.network_options;
    if let Some(why) = crate::cni::ifname_problem(&o.interface_name) {
        return Err(format!("interface_name {:?} {why}", o.interface_name));
    }
    let static_ips = o.static_ips.clone().unwrap_or_default();
    let static_mac = o
        .static_mac
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| {
            m.parse::<Mac>()
                .map_err(|why| format!("static_mac {m:?}: {why}"))
        })
        .transpose()?;
    let mut ports = Vec::new();
    for (n, p) in x.port_mappings.iter().flatten().enumerate() {
        expand(p, &format!("port_mappings[{n}]"), &mut ports)?;
    }
    Ok(SetupRequest {
        netns,
        container_id: x.container_id,
        container_name: x.container_name,
        network,
        ifname: o.interface_name.clone(),
        static_ips,
        static_mac,
        aliases: o.aliases.clone().unwrap_or_default(),
        ports,
        ignored: Vec::new(),
    })
}

/// teardown's request from input setup would refuse: the container, its interface and the
/// network's name, ID and podnet directories; nothing else.
fn lenient_teardown(netns: PathBuf, x: PluginExec, refused: String) -> SetupRequest {
    let dir = |k: &str| {
        x.network
            .options
            .as_ref()
            .and_then(|o| o.get(k))
            .filter(|v| v.starts_with('/'))
            .map(PathBuf::from)
    };
    SetupRequest {
        netns,
        network: NetworkSpec {
            name: x.network.name.clone(),
            id: x.network.id.clone(),
            params: NetworkParams {
                subnet: None,
                gateway: None,
                bridge: None,
                mtu: None,
                internal: x.network.internal,
                icc: true,
                ipv6: None,
                subnet6: None,
                nat6: None,
                macvlan: None,
            },
            icc_given: false,
            root: dir("root"),
            run_dir: dir("run_dir"),
        },
        container_id: x.container_id,
        container_name: x.container_name,
        ifname: x.network_options.interface_name,
        static_ips: Vec::new(),
        static_mac: None,
        aliases: Vec::new(),
        ports: Vec::new(),
        ignored: vec![refused],
    }
}

/// One [`PortMapping`] per port of the range and per protocol.
fn expand(p: &NvPort, field: &str, out: &mut Vec<PortMapping>) -> Result<(), String> {
    let range = p.range.max(1);
    let last = |start: u16, what: &str| -> Result<u16, String> {
        if start == 0 {
            return Err(format!("{field}.{what} is 0: give a port of 1 to 65535"));
        }
        start
            .checked_add(range - 1)
            .ok_or_else(|| format!("{field}: {what} {start} with range {range} passes 65535"))
    };
    last(p.host_port, "host_port")?;
    last(p.container_port, "container_port")?;
    // As netavark's bridge driver: a host_ip publishes on its family only (`0.0.0.0` IPv4,
    // `::` IPv6, on a dual-stack network); none on every family the container has.
    let host_ip = match p.host_ip.as_str() {
        "" => None,
        s => match s.parse::<IpAddr>() {
            Ok(IpAddr::V6(a)) if a.is_multicast() || a.to_ipv4_mapped().is_some() => {
                return Err(format!(
                    "{field}.host_ip {s} is not an address of this host: give one, or none for every address"
                ))
            }
            Ok(a) => Some(a),
            Err(_) => return Err(format!("{field}.host_ip {s:?} is not an IP address")),
        },
    };
    let protos = if p.protocol.is_empty() {
        "tcp"
    } else {
        p.protocol.as_str()
    };
    for name in protos.split(',') {
        let proto = match name.trim().to_ascii_lowercase().as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "sctp" => Proto::Sctp,
            other => {
                return Err(format!(
                    "{field}.protocol {other:?} is not tcp, udp or sctp"
                ))
            }
        };
        for i in 0..range {
            out.push(PortMapping {
                host_ip,
                host_port: p.host_port + i,
                container_port: p.container_port + i,
                proto,
            });
        }
    }
    Ok(())
}
