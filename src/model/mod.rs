//! Core types, parsed and validated once at the edge. Pure: no I/O.

mod error;
mod names;
mod types;

pub use error::{Error, Result};
pub use names::{validate_ifname, validate_name};
pub use types::{Endpoint, EndpointState, Mode, Network, NetworkState};
