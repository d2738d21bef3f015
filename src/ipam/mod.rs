//! Address management, pure: choosing a subnet for a network and an address for an endpoint.
//! The store persists leases; these functions only decide.

mod address;
mod subnet;
mod v6;

pub use address::{check_requested, first_host, is_host, next_free};
pub use subnet::{check_subnet, default_pools, pick_subnet};
pub use v6::{
    check_requested6, check_subnet6, first_host6, next_free6, pick_subnet6, ula48_from_hex,
    NETWORK_PREFIX6,
};
