//! Pure planning: desired kernel state computed from facts, with no I/O.
//!
//! - [`netfilter`]: podnet's nftables tables (masquerade, published ports,
//!   isolation) as one atomic [`crate::kernel::nft::Batch`] per change.
//! - [`overlay`]: the VXLAN overlay's FDB, neighbour and route entries per remote node.
//! - [`family`]: what differs between an IPv4 table and its IPv6 twin.
//! - [`services`]: service VIPs, node ports and affinity in table
//!   `ip podnet-svc`, also one batch per change.

pub mod family;
pub mod netfilter;
pub mod overlay;
pub mod services;
