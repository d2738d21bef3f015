//! Core types, parsed and validated once at the edge. Pure: no I/O.

mod error;
pub mod labels;
pub mod logs;
mod names;
pub mod ports;
pub mod service;
mod types;

pub use error::{CommandCause, Error, Result, StoreCause};
pub use labels::{parse_labels, Labels};
pub use logs::LogConfig;
pub use names::{validate_ifname, validate_name};
pub use ports::{parse_publish, PortMapping, Proto};
pub use service::{Backend, Service, ServicePort};
pub use types::{Endpoint, EndpointState, Mode, Network, NetworkState};
