//! podnet: container networking (namespaces, veth, bridges, IPAM, netfilter) for real.
//!
//! Layers, data flowing down only (see docs/architecture.md):
//! - front ends: [`cli`], [`cni`] (CNI plugin), [`netavark`] (netavark plugin); [`dispatch`]
//!   picks one per process; [`agent`], the per-host agent (`podnet agent`), and its client
//!   the engine tells of name changes
//! - core (pure, no I/O): [`model`], [`ipam`], [`plan`]
//! - orchestration of core + adapters: [`engine`]
//! - adapters: [`store`] (SQLite), [`kernel`] (netlink: links, addresses, routes, namespaces, nftables)
//! - [`dns`]: the DNS server the agent hosts (names scoped by the asker, forwarding)
//! - [`testbed`]: hermetic sandboxes for tests, benchmarks and the demo.

pub mod agent;
pub mod cli;
pub mod cluster;
pub mod cni;
pub mod dispatch;
pub mod dns;
pub mod engine;
pub mod fault;
pub mod ipam;
pub mod kernel;
pub mod model;
pub mod netavark;
pub mod plan;
pub mod store;
pub mod testbed;
