//! Address management, pure: choosing a subnet for a network and an address for an endpoint.
//! The store persists leases; these functions only decide.

mod address;
mod subnet;

pub use address::{check_requested, first_host, next_free};
pub use subnet::{check_subnet, default_pools, pick_subnet};
