//! A node of a multi-host cluster as every other node sees it (issue 11): what the control
//! plane (etcd) publishes and the overlay (VXLAN) installs. Shared by both so neither depends
//! on the other.

use super::Mac;
use ipnet::Ipv4Net;
use std::net::IpAddr;

/// One node's lease on the cluster: its pod subnet and its VXLAN tunnel endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeLease {
    /// The node's name, unique in the cluster.
    pub name: String,
    /// The per-node subnet leased from the cluster's pod CIDR; its pods' addresses.
    pub subnet: Ipv4Net,
    /// The node's underlay address: where VXLAN packets for its pods are sent.
    pub underlay: IpAddr,
    /// The MAC of the node's VXLAN device (changes when the node is re-created).
    pub vtep_mac: Mac,
}
