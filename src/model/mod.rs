//! Core types, parsed and validated once at the edge. Pure: no I/O.

mod error;
pub mod etc;
pub mod filter;
pub mod inet;
pub mod inet6;
pub mod labels;
pub mod logs;
mod mac;
pub mod macvlan;
mod names;
mod node;
pub mod ports;
pub mod service;
mod types;

pub use error::{
    cli_hint, cli_hint_text, field, mention, neutral_name, CommandCause, Error, Result, StoreCause,
};
pub use inet::{parse_cidr, parse_ipv4};
pub use inet6::{parse_cidr6, parse_ip_any, parse_ipv6, parse_subnet_any, split_subnets};
pub use labels::{parse_labels, Labels};
pub use logs::LogConfig;
pub use mac::Mac;
pub use macvlan::{Driver, Macvlan, MacvlanMode};
pub use names::{validate_dns_name, validate_ifname, validate_name};
pub use node::NodeLease;
pub use ports::{
    host_ip_text, parse_expose, parse_publish, publish_exposed, HostPort, PortMapping, PortRequest,
    Proto,
};
pub use service::{Backend, Backend6, BackendOf, Service, Service6, ServiceOf, ServicePort};
pub use types::{Endpoint, EndpointState, Mode, NameRecord, Network, NetworkNames, NetworkState};
