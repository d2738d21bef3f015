//! Kernel adapters. Everything here talks to the kernel directly (netlink, namespace syscalls);
//! nothing spawns `ip`/`nft`: a process spawn costs more than the kernel work itself.

pub mod addr;
pub mod caps;
pub mod conntrack;
pub mod fdb;
pub mod link;
pub mod link_events;
pub mod listen;
pub mod loopback6;
pub mod macvlan;
pub mod neigh;
pub mod netns;
pub mod nft;
pub mod nl;
#[cfg(test)]
mod raw_tests;
pub mod route;
pub mod sysctl;
pub mod vxlan;

pub use nl::Rtnl;
