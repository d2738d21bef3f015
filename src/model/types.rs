//! The records podnet keeps: networks and endpoints (a container's attachment).

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Lifecycle of a network: recorded before the bridge exists, ready after, removing while its
/// bridge is deleted (no container may join it then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkState {
    Creating,
    Ready,
    Removing,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The IPv6 subnet of a dual-stack network (None: IPv4 only; IPv6-only is refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    /// The bridge's IPv6 address, the containers' IPv6 default route (with `subnet6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    /// Masquerade IPv6 egress (NAT66, default); false routes the subnet as it is.
    pub nat6: bool,
    pub mtu: u32,
    /// Never reaches outside the host (no masquerade, no forwarding off the bridge).
    pub internal: bool,
    /// Inter-container communication on the bridge (Docker's `--icc`).
    pub icc: bool,
    /// The agent serves names on the gateway(s) (`--dns`, default on for networks made with
    /// `network create`; off for the default network, like Docker's default bridge).
    pub dns: bool,
    /// Its addresses come from a runtime's IPAM plugin (its first CNI ADD delegated `ipam`):
    /// podnet allocates none on it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delegated: bool,
    /// A macvlan network's parent, mode, range and host access (None: a bridge network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macvlan: Option<super::Macvlan>,
    #[serde(skip)]
    pub state: NetworkState,
}

impl Network {
    /// A podnet bridge network (not macvlan): what the bridge, netfilter and DNS code serve.
    pub fn is_bridge(&self) -> bool {
        self.macvlan.is_none()
    }
    /// The DNS server(s) a container on this network asks: its gateways (IPv4, then IPv6)
    /// when the network has DNS, none otherwise. What a container's resolv.conf lists.
    pub fn dns_servers(&self) -> Vec<std::net::IpAddr> {
        if !self.dns {
            return Vec::new();
        }
        let mut out = vec![std::net::IpAddr::V4(self.gateway)];
        out.extend(self.gateway6.map(std::net::IpAddr::V6));
        out
    }
}

/// The names one DNS-enabled network serves, as the store records them (the agent turns it
/// into the DNS server's table).
#[derive(Debug, Clone)]
pub struct NetworkNames {
    pub network: Network,
    pub records: Vec<NameRecord>,
}

/// One container's (or service's) names and addresses on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    /// The container's identity across networks (its endpoint id); empty for a service.
    pub owner: String,
    /// The container (or service) name first, then its aliases.
    pub names: Vec<String>,
    /// Its addresses on this network (a service: its VIPs).
    pub addrs: Vec<std::net::IpAddr>,
}

/// How a container is networked (Docker's `--network` modes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Its own namespace, a veth to the named network's bridge.
    Bridge(String),
    /// The host's own namespace.
    Host,
    /// Its own namespace with only loopback.
    None,
    /// Shares the namespace of the named container.
    Container(String),
}

impl Mode {
    /// Parse `--network`: `bridge` means the default network.
    pub fn parse(s: &str, default_network: &str) -> super::Result<Mode> {
        Ok(match s {
            "bridge" | "" => Mode::Bridge(default_network.to_string()),
            "host" => Mode::Host,
            "none" => Mode::None,
            _ => match s.strip_prefix("container:") {
                Some(name) => {
                    super::validate_name("container", name)?;
                    Mode::Container(name.to_string())
                }
                None => {
                    super::validate_name("network", s)?;
                    Mode::Bridge(s.to_string())
                }
            },
        })
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Mode::Bridge(_) => "bridge",
            Mode::Host => "host",
            Mode::None => "none",
            Mode::Container(_) => "container",
        }
    }
    /// What the mode refers to: the network of a bridge endpoint or the container joined.
    pub fn target(&self) -> Option<&str> {
        match self {
            Mode::Bridge(n) | Mode::Container(n) => Some(n),
            _ => None,
        }
    }
    pub fn from_parts(kind: &str, target: Option<String>) -> Mode {
        match (kind, target) {
            ("bridge", Some(n)) => Mode::Bridge(n),
            ("container", Some(n)) => Mode::Container(n),
            ("host", _) => Mode::Host,
            _ => Mode::None,
        }
    }
}

/// Lifecycle of an endpoint. `Creating` and `Removing` exist so that a crash at any point leaves
/// a record that `gc` can finish or undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    Creating,
    Ready,
    Removing,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Creating => "creating",
            EndpointState::Ready => "ready",
            EndpointState::Removing => "removing",
        }
    }
    pub fn parse(s: &str) -> EndpointState {
        match s {
            "creating" => EndpointState::Creating,
            "removing" => EndpointState::Removing,
            _ => EndpointState::Ready,
        }
    }
}

/// A container's network attachment (what `ps` lists).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: i64,
    pub name: String,
    pub mode: Mode,
    pub ip: Option<Ipv4Addr>,
    /// Its IPv6 address on a dual-stack network.
    pub ip6: Option<Ipv6Addr>,
    /// Host end of the veth pair (bridge mode).
    pub host_veth: Option<String>,
    /// Path of the network namespace (None for host mode).
    pub netns: Option<String>,
    /// podnet created the namespace and removes it with the endpoint.
    pub netns_owned: bool,
    /// The container's process (run), with its start time to survive PID reuse.
    pub pid: Option<(i32, u64)>,
    /// The podnet process that owns the endpoint while it lives (foreground run, or an
    /// operation in progress); when it is dead the endpoint is garbage.
    pub owner: Option<(i32, u64)>,
    pub state: EndpointState,
    /// MAC of eth0 on a bridge network, the only one its port lets through (None: not on a
    /// bridge, or made before anti-spoofing, when its port is not guarded).
    pub mac: Option<super::Mac>,
    /// The interface's name inside the namespace when it is not `eth0` (a runtime's
    /// CNI_IFNAME); see [`Endpoint::ifname`].
    pub ifname: Option<String>,
}

impl Endpoint {
    /// The name of the container's interface on its network (`eth0` unless a runtime chose).
    pub fn ifname(&self) -> &str {
        self.ifname.as_deref().unwrap_or("eth0")
    }
}
