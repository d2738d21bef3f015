//! The JSON netavark (2.1, plugin API 1.0.0) and Podman 5 exchange with a driver plugin, with
//! the same fields required as netavark's own types require: a plugin must accept what
//! netavark sends and netavark must accept what the plugin prints.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A Podman network (`create`'s input and output; `network` in setup/teardown). Fields podnet
/// does not read (`created`, `routes`, `labels`, `network_dns_servers`, ...) are kept in
/// `extra` so `create` gives them back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Subnet>>,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub dns_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_options: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRange {
    #[serde(default)]
    pub start_ip: Option<String>,
    #[serde(default)]
    pub end_ip: Option<String>,
}

/// The container's options on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    pub interface_name: String,
    #[serde(default)]
    pub static_ips: Option<Vec<IpAddr>>,
    #[serde(default)]
    pub static_mac: Option<String>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// A published port range: `range` ports from `host_port` to `container_port`, for each
/// protocol of the comma-separated `protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub container_port: u16,
    #[serde(default)]
    pub host_ip: String,
    pub host_port: u16,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub range: u16,
}

/// setup's and teardown's stdin (netavark's `NetworkPluginExec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginExec {
    pub container_id: String,
    pub container_name: String,
    #[serde(default)]
    pub port_mappings: Option<Vec<PortMapping>>,
    pub network: Network,
    pub network_options: PerNetworkOptions,
}

/// setup's answer: the container's interfaces on this network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBlock {
    pub dns_search_domains: Vec<String>,
    pub dns_server_ips: Vec<IpAddr>,
    pub interfaces: BTreeMap<String, NetInterface>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    pub mac_address: String,
    pub subnets: Vec<NetAddress>,
}

/// An address with its subnet's prefix (`ipnet` holds the address, not the network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    pub ipnet: IpNet,
}

/// info's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub version: String,
    pub api_version: String,
}

/// The plugin API's error shape (with exit status 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}
